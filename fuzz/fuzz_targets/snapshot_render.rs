//! Fuzzes what `--from-snapshot FILE` feeds to every command that reads
//! one: a parsed (but possibly self-contradictory) snapshot rendered as a
//! table with every column, JSON, CSV, the netstat layout, the summary, and
//! audited. Whatever the file says, the result is output or a usage error,
//! never a panic. (Run with -close_fd_mask=1: the output itself is not
//! checked here.)

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portscope_cli::Failure;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!(
            "portscope-fuzz-snapshot-{}.json",
            std::process::id()
        ))
    })
}

const LAYOUTS: &[&[&str]] = &[
    &["-a", "-e", "-p"],
    &["-a", "--json"],
    &["-a", "--format", "csv"],
    &["-ano", "--format", "netstat"],
    &["-s"],
    &["audit"],
    &["-a", "--sort", "process"],
];

fuzz_target!(|data: &[u8]| {
    // Only what parses as a snapshot reaches the renderers.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if portscope_cli::fuzzing::snapshot_file(text).is_err() {
        return;
    }
    std::fs::write(path(), data).expect("write the snapshot");
    let file = path().to_str().expect("a UTF-8 temp path");
    for layout in LAYOUTS {
        let mut argv: Vec<&str> = layout.to_vec();
        argv.extend(["--from-snapshot", file]);
        match portscope_cli::fuzzing::run(&argv) {
            None => panic!("clap refused {argv:?}"),
            Some(Ok(_)) | Some(Err(Failure::Usage(_))) => {}
            // A closed or failing stdout is not the renderer's fault.
            Some(Err(Failure::Output(_))) => {}
            Some(Err(Failure::System(e))) => panic!("{argv:?}: system error from a file: {e}"),
        }
    }
});
