//! Terminal conventions: shell completions and the man page generated from
//! the command line's definition.

mod common;

use std::path::Path;
use std::process::Command;

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
