//! The layout rule of the house: no source file in `crates/*/src` is over
//! 800 lines outside its test modules. A file is counted up to its first
//! `#[cfg(test)]` module; files that are test modules themselves (`tests.rs`,
//! `*_tests.rs`) are not counted. Generated code is not in `src/` (the
//! service table is written to `OUT_DIR` by build.rs), so every file there
//! counts.

use std::path::{Path, PathBuf};

const LIMIT: usize = 800;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reads a source folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_test_module(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// Lines before the first `#[cfg(test)]` that opens a module (on the same
/// line or the next non-attribute line); the whole file when there is none.
fn shipped_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            let opens_module = lines[i..]
                .iter()
                .map(|l| l.trim_start())
                .find(|l| !l.starts_with("#[") || l.contains("mod "))
                .is_some_and(|l| {
                    let l = l.rsplit(']').next().unwrap_or(l).trim_start();
                    l.starts_with("mod ") || l.starts_with("pub mod ")
                });
            if opens_module {
                return i;
            }
        }
    }
    lines.len()
}

#[test]
fn counting_stops_at_the_test_module() {
    let text = "fn a() {}\n#[cfg(test)]\nuse x;\nfn b() {}\n#[cfg(test)]\n#[path = \"t.rs\"]\nmod tests;\n";
    assert_eq!(shipped_lines(text), 4);
    assert_eq!(shipped_lines("fn a() {}\n#[cfg(test)] mod tests {}\n"), 1);
    assert_eq!(shipped_lines("a\nb\nc\n"), 3);
}

#[test]
fn no_source_file_is_over_800_lines_outside_tests() {
    let root = workspace();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).expect("reads crates/") {
        let src = krate.expect("a crate folder").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut over: Vec<String> = files
        .iter()
        .filter(|f| !is_test_module(f))
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("reads a source file");
            let n = shipped_lines(&text);
            (n > LIMIT).then(|| {
                let rel = f.strip_prefix(&root).unwrap_or(f);
                format!("{} ({n} lines)", rel.display())
            })
        })
        .collect();
    over.sort();
    assert!(
        over.is_empty(),
        "over {LIMIT} lines outside test modules (split them by concern): {over:?}"
    );
}
