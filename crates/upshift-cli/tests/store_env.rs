//! Hooks, pre-checks and data steps get the installation's stores as environment
//! variables (`UPSHIFT_STORE_NAME_PATH`, `_URL`, ...), so a catalog can
//! migrate a store without conventions of its own.

mod common;

use common::demo::Demo;

#[test]
fn hooks_pre_checks_and_data_steps_see_the_stores() {
    let demo = Demo::new();
    // A data step of 1.1.0 that needs the notes store's path.
    let cat = std::fs::read_to_string(common::repo().join("catalogs/demo.toml"))
        .unwrap()
        .replace(
            "window = \"10s\"\ncompose_template = \"demo/1.1.0/docker-compose.yml\"",
            "window = \"10s\"\ncompose_template = \"demo/1.1.0/docker-compose.yml\"\n\
             data_steps = [{ id = \"check-store\", description = \"the store is where the variable says\", \
             run = 'test -f \"$UPSHIFT_STORE_NOTES_PATH\" && echo \"$UPSHIFT_STORE_NOTES_URL\" > step-env.txt' }]\n\
             pre_checks = [{ id = \"store-env\", description = \"a check sees the store\", \
             run = 'echo \"$UPSHIFT_STORE_NOTES_KIND $UPSHIFT_FROM $UPSHIFT_TO\" > check-env.txt' }]",
        );
    std::fs::create_dir(demo.path("cat")).unwrap();
    std::fs::write(demo.path("cat/demo.toml"), &cat).unwrap();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    std::fs::write(
        demo.path("upshift.toml"),
        format!("{m}\n[hooks]\npre_upgrade = 'env | grep ^UPSHIFT_STORE_ | sort > hook-env.txt'\n"),
    )
    .unwrap();
    let run = demo.upshift(&["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let db = demo.path("data/notes.db");
    let hook = std::fs::read_to_string(demo.path("hook-env.txt")).unwrap();
    for line in [
        "UPSHIFT_STORE_NOTES_KIND=sqlite".to_string(),
        format!("UPSHIFT_STORE_NOTES_PATH={}", db.display()),
    ] {
        assert!(hook.lines().any(|l| l == line), "{line} in:\n{hook}");
    }
    let check = std::fs::read_to_string(demo.path("check-env.txt")).unwrap();
    assert_eq!(check.trim(), "sqlite 1.0.0 1.1.0");
    let step = std::fs::read_to_string(demo.path("step-env.txt")).unwrap();
    assert_eq!(step.trim(), format!("sqlite://{}", db.display()));
}
