//! Files the command reads (`--from-snapshot`, `audit --baseline`): read
//! with a size cap, so a huge file, `/dev/zero` or an endless FIFO ends in
//! one clear error instead of unbounded memory.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The largest input file read, in bytes (256 MiB).
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads a JSON text file of at most [`MAX_INPUT_BYTES`]. The error is one
/// line for the user, without the path (the caller adds it).
pub fn read_json_text(path: &Path) -> Result<String, String> {
    read_capped(path, MAX_INPUT_BYTES)
}

fn read_capped(path: &Path, cap: u64) -> Result<String, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    // A regular file says its size up front: no need to read it to refuse it.
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > cap
    {
        return Err(too_large(cap));
    }
    let mut reader = file.take(cap.saturating_add(1));
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        let got = chunk.get(..n).unwrap_or_default();
        // JSON text never holds a raw NUL byte: a device such as /dev/zero
        // or a binary file is refused at its first chunk.
        if got.contains(&0) {
            return Err("not a JSON text file (it holds NUL bytes)".into());
        }
        if bytes.len() as u64 + n as u64 > cap {
            return Err(too_large(cap));
        }
        bytes.extend_from_slice(got);
    }
    String::from_utf8(bytes).map_err(|_| "not a UTF-8 text file".into())
}

fn too_large(cap: u64) -> String {
    format!("larger than the {} MiB input limit", cap >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn caps_and_refusals() {
        let dir = std::env::temp_dir().join(format!("portscope-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let small = dir.join("small.json");
        std::fs::write(&small, "[]").expect("write");
        assert_eq!(read_capped(&small, 16).expect("small"), "[]");
        let big = dir.join("big.json");
        let mut f = File::create(&big).expect("create");
        f.write_all(&[b' '; 17]).expect("write");
        assert!(
            read_capped(&big, 16)
                .expect_err("big")
                .contains("input limit")
        );
        // Exactly the cap is fine.
        assert_eq!(read_capped(&big, 17).expect("at cap").len(), 17);
        let e = read_capped(Path::new("/dev/zero"), MAX_INPUT_BYTES).expect_err("zero");
        assert!(e.contains("NUL"), "{e}");
        let bad = dir.join("bad.json");
        std::fs::write(&bad, [b'[', 0xff, b']']).expect("write");
        assert!(read_capped(&bad, 16).expect_err("utf8").contains("UTF-8"));
        assert!(read_capped(&dir.join("missing"), 16).is_err());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
