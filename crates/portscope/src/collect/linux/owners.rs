//! Owner walk (stub, being written).

use std::collections::HashMap;

use crate::model::{Owner, Process};

/// Socket inode -> holders, from one walk over `/proc/<pid>/fd`.
#[derive(Debug, Default)]
pub struct OwnerMap {
    /// Every (pid, fd) holding each socket inode.
    pub by_inode: HashMap<u64, Vec<Owner>>,
    /// Processes whose fd table could not be read for lack of permission.
    pub denied: Vec<u32>,
}

/// Walks every process's fd table.
pub fn walk() -> OwnerMap {
    OwnerMap::default()
}

/// Reads the details of one process; `None` if it has gone.
pub fn process(_pid: u32) -> Option<Process> {
    None
}
