//! `upshift demo`: set up the bundled demo installation and show its upgrade.

use std::path::Path;

use crate::cli::DemoArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;

/// The demo manifest, as shipped in `examples/demo/upshift.toml`.
const DEMO_MANIFEST: &str = include_str!("../../../../examples/demo/upshift.toml");

pub fn run(settings: &Settings, args: &DemoArgs) -> Result<i32, CliError> {
    let manifest = args.dir.join("upshift.toml");
    write_manifest(&args.dir, &manifest)?;
    let demo = Settings {
        manifest: manifest.clone(),
        ..settings.clone()
    };
    let p = settings.printer;
    p.human(format!(
        "Demo installation manifest: {}\n",
        manifest.display()
    ));
    if args.no_upgrade {
        return Ok(code::OK);
    }
    let loaded = demo.load()?;
    let plan = upshift_core::plan(&loaded, "3.0.0")?;
    p.json(&plan);
    p.human(crate::render::plan(&plan, &loaded.catalog.name));
    p.human(format!(
        "\nThis build plans upgrades; applying them arrives with the executor.\nTry next:\n  upshift -m {m} status\n  upshift -m {m} plan --to 2.1.0\n  upshift catalog show demo",
        m = manifest.display()
    ));
    Ok(code::OK)
}

fn write_manifest(dir: &Path, manifest: &Path) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::Failed(format!("cannot set up the demo in {}: {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    match std::fs::read_to_string(manifest) {
        Ok(existing) if existing == DEMO_MANIFEST => Ok(()),
        Ok(_) => Err(CliError::BadInput(format!(
            "{} exists and is not the demo manifest; choose another directory with `--dir` or remove it",
            manifest.display()
        ))),
        Err(_) => std::fs::write(manifest, DEMO_MANIFEST).map_err(fail),
    }
}
