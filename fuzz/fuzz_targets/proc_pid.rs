//! Fuzzes what is read from /proc/<pid>: `status`, `comm` and `cmdline`
//! (any process chooses its name and command line), and fd link targets.
//! The input is cut at the first two `\xfe\xfe` marks into status, comm and
//! cmdline, written to a scratch procfs-like folder, and read back by
//! `process_in` as the owner walk does.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portscope::collect::linux::owners::{self, UserNames};

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("portscope-fuzz-proc-{}", std::process::id()));
        std::fs::create_dir_all(root.join("4242")).expect("scratch folder");
        root
    })
}

fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.windows(2).position(|w| w == b"\xfe\xfe") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = owners::socket_inode(data);
    let _ = owners::cmdline_text(data);
    let _ = owners::parse_comm(data);
    let _ = owners::parse_status(data);

    let (status, rest) = split(data);
    let (comm, cmdline) = split(rest);
    let dir = root().join("4242");
    std::fs::write(dir.join("status"), status).expect("write status");
    std::fs::write(dir.join("comm"), comm).expect("write comm");
    std::fs::write(dir.join("cmdline"), cmdline).expect("write cmdline");
    let mut users = UserNames::default();
    let _ = owners::process_in(root(), 4242, &mut users);
});
