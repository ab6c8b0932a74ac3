//! The one seam to the OS holds: outside `collect/linux/`, no code of the
//! library or the binary names /proc paths, Linux modules or
//! `target_os` — bar the one place in collect/mod.rs that picks the OS
//! folder. (Comments may say what Linux does; code may not depend on it.)

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if !path.ends_with("collect/linux") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_os_names_outside_the_os_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("../portscope-cli/src"), &mut files);
    assert!(files.len() > 20, "found only {files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read source");
        let in_tests = text.find("#[cfg(test)]").unwrap_or(text.len());
        for (n, line) in text[..in_tests].lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let chooser = f.ends_with("collect/mod.rs")
                && (code == "#[cfg(target_os = \"linux\")]"
                    || code == "pub mod linux;"
                    || code == "pub use linux::system::Linux as Native;");
            if chooser {
                continue;
            }
            if code.contains("\"/proc") || code.contains("linux::") || code.contains("target_os") {
                bad.push(format!("{}:{}: {}", f.display(), n + 1, code));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "OS names outside collect/linux:\n{}",
        bad.join("\n")
    );
}
