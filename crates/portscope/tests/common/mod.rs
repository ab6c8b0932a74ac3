//! Shared helpers for the library's live tests.
#![allow(dead_code)]

mod netns;
pub mod ss;

#[allow(unused_imports)]
pub use netns::{NetNs, current_netns_inode, netns};
#[allow(unused_imports)]
use portscope::model::{Endpoint, TcpState};

use std::process::Command;

/// Runs ss with `args` and returns its output, read lossily: ss prints the
/// bytes of socket names as they are, and any process may choose them.
pub fn ss(args: &[&str]) -> String {
    let out = Command::new("ss")
        .args(args)
        .output()
        .expect("ss (iproute2) is needed as the oracle");
    assert!(
        out.status.success(),
        "ss {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
