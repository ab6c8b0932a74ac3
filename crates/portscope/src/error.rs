//! The library's error type: each variant is something a caller can act on.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A path in a message: escaped, so a name with a line break stays one line.
fn shown(path: &Path) -> crate::text::Escaped<'_> {
    crate::text::escape(path.as_os_str().as_bytes())
}

/// Errors from collecting or interpreting socket data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused or does not offer NETLINK_SOCK_DIAG (sandbox, old kernel, seccomp).
    #[error("netlink sock_diag unavailable: {0}")]
    NetlinkUnavailable(#[source] io::Error),
    /// A netlink exchange failed after the socket was opened.
    #[error("netlink: {0}")]
    Netlink(#[source] io::Error),
    /// The kernel sent a netlink message we could not make sense of.
    #[error("netlink: malformed message: {0}")]
    NetlinkMalformed(String),
    /// Permission denied reading a file or acting on a process.
    #[error("permission denied: {}", shown(path))]
    PermissionDenied {
        /// The path (or process directory) that was refused.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("{}: {source}", shown(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The walk over the process table that finds each socket's processes
    /// failed for want of resources (EMFILE, ENFILE, ENOMEM…) or because it could
    /// not be read at all: owners would be missing, so nothing is reported
    /// rather than a listing with silently empty owners. (Processes that
    /// exit during the walk, and fd tables not readable for lack of
    /// permission, are not errors.)
    #[error("cannot walk the processes to find socket owners: {}: {source}", path.display())]
    ProcWalk {
        /// What could not be opened or read (the process table, one
        /// process's fd table).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A line of a kernel's socket table file could not be parsed.
    #[error("{file}: line {line}: {msg}")]
    Parse {
        /// Which file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
}

impl Error {
    /// Wraps an I/O error on `path`, turning EACCES/EPERM into [`Error::PermissionDenied`].
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        if source.kind() == io::ErrorKind::PermissionDenied {
            Error::PermissionDenied { path }
        } else {
            Error::Io { path, source }
        }
    }
}

/// Result with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
