//! Terminal conventions: shell completions and the man page generated from
//! the command line's definition; `--color`, `NO_COLOR`, `-q` and `-v`.

mod common;

use std::path::Path;
use std::process::Command;

use common::demo::Demo;
use common::upshift;

fn generated(dir: &Path, args: &[&str], file: &str) -> std::path::PathBuf {
    let run = upshift(dir).args(args).run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("upshift"), "{}", run.stdout);
    let path = dir.join(file);
    std::fs::write(&path, &run.stdout).unwrap();
    path
}

fn sh(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} runs (scripts/install-test-deps.sh installs it): {e}")
        })
}

fn ok(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bash_completions_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), &["completions", "bash"], "upshift.bash");
    let out = sh(
        "bash",
        &[
            "-c",
            &format!("source {} && complete -p upshift", file.display()),
        ],
    );
    assert!(ok(&out).contains("-F _upshift upshift"));
    // The script knows the subcommands.
    let text = std::fs::read_to_string(&file).unwrap();
    for sub in ["apply", "rollback", "completions", "man"] {
        assert!(text.contains(sub), "{sub} missing");
    }
}

#[test]
fn bash_completes_a_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), &["completions", "bash"], "upshift.bash");
    let script = format!(
        "source {}; COMP_WORDS=(upshift roll); COMP_CWORD=1; _upshift upshift roll upshift; echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = ok(&sh("bash", &["-c", &script]));
    assert_eq!(out.trim(), "rollback");
}

#[test]
fn zsh_completions_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), &["completions", "zsh"], "_upshift");
    let script = format!(
        "autoload -U compinit; compinit -u -d {}/zcompdump; source {} && whence -w _upshift",
        dir.path().display(),
        file.display()
    );
    let out = ok(&sh("zsh", &["-f", "-c", &script]));
    assert!(out.contains("_upshift: function"), "{out}");
}

#[test]
fn fish_completions_parse() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), &["completions", "fish"], "upshift.fish");
    ok(&sh("fish", &["-n", file.to_str().unwrap()]));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("complete -c upshift"), "{text}");
}

#[test]
fn other_shells_generate_and_unknown_ones_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["elvish", "powershell"] {
        generated(dir.path(), &["completions", shell], shell);
    }
    let run = upshift(dir.path()).args(["completions", "tcsh"]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

#[test]
fn the_man_page_renders_and_lists_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path(), &["man"], "upshift.1");
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .env_remove("MANPAGER")
        .env("PAGER", "cat")
        .output()
        .expect("man runs (scripts/install-test-deps.sh installs man-db)");
    let text = plain(&ok(&out));
    assert!(
        text.contains("upshift - Upgrade and migrate self-hosted servers safely"),
        "{text}"
    );
    for section in ["SYNOPSIS", "OPTIONS", "SUBCOMMANDS"] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    for sub in [
        "demo",
        "status",
        "plan",
        "apply",
        "resume",
        "rollback",
        "history",
        "unlock",
        "backup",
        "snapshots",
        "verify",
        "restore",
        "catalog",
        "config",
        "completions",
        "man",
    ] {
        assert!(
            text.contains(&format!("upshift-{sub}(1)")),
            "{sub} missing:\n{text}"
        );
    }
}

/// Text without the overstrike (`X\x08X` bold, `_\x08X` underline) that
/// man writes when its output is not a terminal.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

const ESC: &str = "\u{1b}[";

#[test]
fn quiet_prints_the_result_and_errors_only() {
    let demo = Demo::new();
    let run = demo.upshift(&["-q", "-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "nothing but errors on stderr with -q");
    assert!(run.stdout.contains("1.1.0"), "{}", run.stdout);

    let missing = upshift(&demo.dir)
        .args(["-q", "-m", "nope.toml", "plan", "--to", "1.1.0"])
        .run();
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.starts_with("error: no manifest"),
        "{}",
        missing.stderr
    );
}

#[test]
fn verbose_adds_each_step_as_it_starts() {
    let demo = Demo::new();
    let normal = demo.upshift(&["-y", "backup"]);
    assert_eq!(normal.code, 0, "{}", normal.stderr);
    assert!(normal.stderr.contains("backing up"), "{}", normal.stderr);

    let run = demo.upshift(&["-v", "-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let started = run
        .stderr
        .lines()
        .filter(|l| l.contains("] start "))
        .count();
    let done = run.stderr.lines().filter(|l| l.contains("] ok ")).count();
    assert!(started > 3 && started == done, "{}", run.stderr);
    // And the stores of each backup, named without a terminal.
    assert!(run.stderr.contains("  notes: ok"), "{}", run.stderr);

    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(!back.stderr.contains("] start "), "{}", back.stderr);
}

#[test]
fn quiet_and_verbose_together_are_refused() {
    let run = upshift(Path::new("."))
        .args(["-q", "-v", "catalog", "list"])
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

/// Runs upshift on a pseudo-terminal (util-linux `script`), where `auto`
/// colours unless `NO_COLOR` is set.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> String {
    let mut cmd = Command::new("script");
    cmd.args(["-qec"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_upshift")))
        .arg("/dev/null")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("script runs (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn colour_on_a_terminal_unless_no_color_or_never() {
    let bad = "-m /nonexistent/upshift.toml status";
    let coloured = on_a_terminal(bad, None);
    assert!(coloured.contains(ESC), "{coloured:?}");
    assert!(coloured.contains("no manifest"), "{coloured:?}");
    for (args, no_color) in [
        (bad.to_string(), Some("1")),
        (format!("--color never {bad}"), None),
    ] {
        let plain = on_a_terminal(&args, no_color);
        assert!(plain.contains("error: no manifest"), "{plain:?}");
        assert!(!plain.contains(ESC), "{args} {no_color:?}: {plain:?}");
    }
    // An empty NO_COLOR does not count as set.
    assert!(on_a_terminal(bad, Some("")).contains(ESC));
}

#[test]
fn colour_always_without_a_terminal_and_never_by_default_there() {
    let dir = tempfile::tempdir().unwrap();
    let always = upshift(dir.path())
        .args(["--color", "always", "status"])
        .run();
    assert_eq!(always.code, 2);
    assert!(always.stderr.contains(ESC), "{:?}", always.stderr);
    let auto = upshift(dir.path())
        .env("NO_COLOR", "")
        .args(["status"])
        .run();
    assert!(!auto.stderr.contains(ESC), "{:?}", auto.stderr);
    assert!(
        auto.stderr.starts_with("error: no manifest"),
        "{:?}",
        auto.stderr
    );
}

/// A demo with about 24 MB of notes, so a backup reads for a while.
fn demo_with_megabytes_of_notes() -> Demo {
    let demo = Demo::new();
    let seeded = Command::new(demo.path("current/bin/upshift-demo"))
        .args(["seed", "--config", "config/notes.toml", "--count", "400"])
        .args(["--body-bytes", "60000"])
        .current_dir(&demo.dir)
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    let db = std::fs::metadata(demo.path("data/notes.db")).unwrap().len();
    assert!(db > 20_000_000, "{db} bytes");
    demo
}

/// Runs upshift in `dir` on a pseudo-terminal: everything it wrote there.
fn on_a_terminal_in(dir: &Path, args: &str) -> String {
    let out = Command::new("script")
        .args(["-qec"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_upshift")))
        .arg("/dev/null")
        .current_dir(dir)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .output()
        .expect("script runs (util-linux)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// On a terminal a backup shows the bytes it read, their rate and the
/// total of the store being read; with `-q`, nothing of it.
#[test]
fn a_backup_on_a_terminal_shows_bytes_and_rate() {
    let demo = demo_with_megabytes_of_notes();
    let shown = on_a_terminal_in(&demo.dir, "-m upshift.toml -y backup");
    assert!(shown.contains("backing up notes"), "{shown:?}");
    // `12.50 MiB/22.93 MiB 40.12 MiB/s` (binary units), then the ETA.
    let line = shown
        .split(['\r', '\n'])
        .find(|l| l.contains("backing up notes") && l.contains("iB/s"))
        .unwrap_or_else(|| panic!("no bytes and rate: {shown:?}"));
    assert!(
        line.contains(" MiB/"),
        "a byte count of the total: {line:?}"
    );
    assert!(line.contains("ETA"), "{line:?}");

    let quiet = on_a_terminal_in(&demo.dir, "-q -m upshift.toml -y backup");
    assert!(!quiet.contains("iB/s"), "{quiet:?}");
    assert!(!quiet.contains("backing up"), "{quiet:?}");
}

/// Without a terminal no bar is drawn: stderr holds lines only, no
/// carriage returns or escape sequences; `--json` prints one document.
#[test]
fn without_a_terminal_progress_leaves_no_control_characters() {
    let demo = demo_with_megabytes_of_notes();
    for args in [&["-y", "backup"][..], &["-v", "-y", "backup"], &["verify"]] {
        let run = demo.upshift(args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            !run.stderr.contains('\r') && !run.stderr.contains('\u{1b}'),
            "{args:?}: {:?}",
            run.stderr
        );
        assert!(!run.stderr.contains("iB/s"), "{args:?}: {}", run.stderr);
    }
    let json = demo.upshift(&["--json", "-y", "backup"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.json()["verified"], true, "{}", json.stdout);
    assert!(!json.stderr.contains('\r'), "{:?}", json.stderr);
}
