//! What a packager ships besides the binary: the shell completions and the
//! manual page (generated from the clap definitions, pinned as snapshots and
//! checked by the shells and by man themselves), and the README, which must
//! name every command and option that exists and none that does not.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn output(args: &[&str]) -> String {
    let out = portscope().args(args).output().expect("runs portscope");
    assert!(
        out.status.success(),
        "portscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A program the test needs, or a failure naming the Debian package.
fn need(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{program}` not found: install the Debian package {package}"
    );
}

/// Runs `program args` with `input` on stdin; returns (success, stdout, stderr).
fn run_with_stdin(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes stdin");
    let out = child.wait_with_output().expect("waits");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portscope-packaging-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writes");
    path
}

/// Every visible subcommand of the CLI (not `help`), and every long option
/// of the main command and the subcommands, hidden ones included (with
/// whether they are hidden).
fn clap_names() -> (Vec<String>, Vec<(String, bool)>) {
    let cmd = portscope_cli::command();
    let mut subcommands = Vec::new();
    let mut longs = Vec::new();
    let mut add = |c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(l) = a.get_long() {
                longs.push((format!("--{l}"), a.is_hide_set()));
            }
        }
    };
    add(&cmd);
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        if !sub.is_hide_set() {
            subcommands.push(sub.get_name().to_string());
        }
        add(sub);
    }
    // clap's own.
    longs.push(("--help".into(), true));
    longs.push(("--version".into(), true));
    (subcommands, longs)
}

#[test]
fn completions_pinned_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = output(&["completions", shell]);
        assert!(script.contains("portscope"), "{shell}");
        insta::assert_snapshot!(format!("completions_{shell}"), script);
    }
}

#[test]
fn completions_know_every_command_and_option() {
    let (subcommands, longs) = clap_names();
    for shell in ["bash", "zsh", "fish"] {
        let script = output(&["completions", shell]);
        for sub in &subcommands {
            assert!(
                script.contains(sub.as_str()),
                "{shell} completion lacks {sub}"
            );
        }
        for (long, hidden) in &longs {
            if *hidden {
                continue;
            }
            let bare = long.trim_start_matches('-');
            assert!(
                script.contains(long.as_str()) || script.contains(&format!("-l {bare}")),
                "{shell} completion lacks {long}"
            );
        }
    }
}

#[test]
fn bash_accepts_the_bash_completion() {
    let path = write_temp("portscope.bash", &output(&["completions", "bash"]));
    let out = Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("runs bash");
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sourced, it registers the completion function for portscope.
    let out = Command::new("bash")
        .args([
            "-c",
            &format!("source {} && complete -p portscope", path.display()),
        ])
        .output()
        .expect("runs bash");
    let registered = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && registered.contains("portscope"),
        "complete -p portscope: {registered} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zsh_accepts_the_zsh_completion() {
    need("zsh", "zsh");
    let path = write_temp("_portscope", &output(&["completions", "zsh"]));
    let out = Command::new("zsh")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("runs zsh");
    assert!(
        out.status.success(),
        "zsh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&path)
            .expect("reads")
            .starts_with("#compdef portscope"),
        "the zsh completion starts with #compdef"
    );
}

#[test]
fn man_page_pinned() {
    insta::assert_snapshot!("man_page", output(&["man"]));
}

#[test]
fn man_renders_the_page_without_warnings() {
    need("man", "man-db");
    let page = output(&["man"]);
    let path = write_temp("portscope.1", &page);
    let path = path.to_str().expect("UTF-8 path");
    let (ok, text, warnings) = run_with_stdin("man", &["--warnings", "-l", path], "");
    assert!(ok, "man -l failed: {warnings}");
    assert!(
        warnings.trim().is_empty(),
        "man -l warns about the page:\n{warnings}"
    );
    // Rendered, not shown as roff source; every command has its section.
    let text = text.replace("\u{8}", "");
    assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    assert!(!text.contains(".SH"), "roff left unrendered:\n{text}");
    let (subcommands, _) = clap_names();
    for sub in &subcommands {
        let heading = format!("PORTSCOPE {}", sub.to_uppercase());
        assert!(text.contains(&heading), "man page lacks {heading}");
    }
    assert!(text.contains("--from-snapshot") == page.contains("from-snapshot"));
}

/// The README names every command and every long option clap knows
/// (hidden ones may be documented, need not be), and no `--option` that clap
/// does not know. Commands other than portscope's (cargo's, fuzz/run.sh's)
/// are skipped by line.
#[test]
fn readme_documents_every_command_and_option_and_no_other() {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(readme_path).expect("reads README.md");
    let (subcommands, longs) = clap_names();

    let missing_commands: Vec<&String> = subcommands
        .iter()
        .filter(|s| !readme.contains(&format!("portscope {s}")))
        .collect();
    let known: BTreeSet<&str> = longs.iter().map(|(l, _)| l.as_str()).collect();
    let mut missing_options: BTreeSet<&str> = BTreeSet::new();
    for (long, hidden) in &longs {
        if !hidden && !mentions_option(&readme, long) {
            missing_options.insert(long);
        }
    }

    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for line in readme.lines() {
        if line.contains("cargo ") || line.contains("run.sh") {
            continue;
        }
        for word in options_in(line) {
            if !known.contains(word.as_str()) {
                unknown.insert(word);
            }
        }
    }

    let mut problems = Vec::new();
    if !missing_commands.is_empty() {
        problems.push(format!(
            "README.md does not document these commands (write `portscope NAME` somewhere): {missing_commands:?}"
        ));
    }
    if !missing_options.is_empty() {
        problems.push(format!(
            "README.md does not document these options clap knows: {missing_options:?}"
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "README.md names options clap does not know (removed or misspelled?): {unknown:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Whether `text` names `--long` as a whole word (not as the start of a
/// longer option: `--json` is not documented by `--json-lines`).
fn mentions_option(text: &str, long: &str) -> bool {
    text.match_indices(long).any(|(at, _)| {
        let after = text[at + long.len()..].chars().next();
        let before = text[..at].chars().next_back();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The `--word` options written on a line.
fn options_in(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(at) = line[i..].find("--").map(|p| p + i) {
        let before = line[..at].chars().next_back();
        let mut end = at + 2;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'-') {
            end += 1;
        }
        let word = &line[at..end];
        if word.len() > 2
            && bytes[at + 2].is_ascii_alphabetic()
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            out.push(word.to_string());
        }
        i = end.max(at + 2);
    }
    out
}
