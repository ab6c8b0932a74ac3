//! /proc/net collector (stub, being written).

use std::path::PathBuf;

use crate::collect::Collector;
use crate::error::Result;
use crate::model::{Query, Socket, Source};

/// Sockets from the text files in `/proc/net` (or another process's `/proc/<pid>/net`).
pub struct ProcNet {
    dir: PathBuf,
}

impl ProcNet {
    /// Reads `/proc/net`.
    pub fn new() -> ProcNet {
        ProcNet::at("/proc/net")
    }
    /// Reads the files of `dir` (a `/proc/<pid>/net` or a fixture folder).
    pub fn at(dir: impl Into<PathBuf>) -> ProcNet {
        ProcNet { dir: dir.into() }
    }
}

impl Default for ProcNet {
    fn default() -> Self {
        ProcNet::new()
    }
}

impl Collector for ProcNet {
    fn source(&self) -> Source {
        Source::Procfs
    }
    fn collect(&self, _query: &Query, _out: &mut Vec<Socket>) -> Result<()> {
        let _ = &self.dir;
        Ok(())
    }
}
