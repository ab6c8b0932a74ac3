//! Socket inode -> the processes holding it: what an owner walk finds.

use std::collections::HashMap;

use crate::model::Owner;

/// Socket inode -> holders, from one owner walk.
#[derive(Debug, Default)]
pub struct OwnerMap {
    /// Inodes, sorted; `owners[i]` holds `inodes[i]`.
    inodes: Vec<u64>,
    /// Holders, parallel to `inodes` (sorted by inode, then pid, then fd).
    owners: Vec<Owner>,
    /// Processes whose fd table could not be read for lack of permission.
    pub denied: Vec<u32>,
    /// Open-fd count of every process whose table was read, where the OS
    /// reports one, so that an incremental walk can skip the tables that
    /// did not change.
    fd_counts: HashMap<u32, u64>,
    /// Open network-namespace files (`net:[INODE]` links: a held
    /// `/proc/X/ns/net` or nsfs fd), as (namespace inode, holder): how a
    /// namespace with no process in it and no bind mount is still found.
    pub netns_fds: Vec<(u64, Owner)>,
}

impl OwnerMap {
    /// Every (pid, fd) holding the socket with this inode, in pid then fd order.
    pub fn owners_of(&self, inode: u64) -> &[Owner] {
        self.owners_in(self.span_of(inode))
    }

    /// Where the holders of `inode` are: a span for [`OwnerMap::owners_in`]
    /// of this map, which a caller may keep to skip the search next time.
    pub(crate) fn span_of(&self, inode: u64) -> (u32, u32) {
        let start = self.inodes.partition_point(|i| *i < inode);
        // A socket has a few holders at most: step over them rather than
        // binary-search the rest of the table again (a cache miss a step).
        let rest = self.inodes.get(start..).unwrap_or_default();
        let end = start + rest.iter().take_while(|&&i| i == inode).count();
        let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        (at(start), at(end))
    }

    /// The holders in a span [`OwnerMap::span_of`] gave for this map.
    pub(crate) fn owners_in(&self, (start, end): (u32, u32)) -> &[Owner] {
        self.owners
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// Number of (socket, fd) links found.
    pub fn len(&self) -> usize {
        self.inodes.len()
    }

    /// True when no socket link was found.
    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty()
    }

    /// The open-fd count of each process whose table was read.
    pub fn fd_counts(&self) -> &HashMap<u32, u64> {
        &self.fd_counts
    }

    /// Every (inode, owner) pair, in inode order.
    pub fn pairs(&self) -> impl Iterator<Item = (u64, &Owner)> {
        self.inodes.iter().copied().zip(&self.owners)
    }

    /// Builds a map from unsorted pairs (used by the walk and by tests).
    pub fn from_pairs(pairs: Vec<(u64, Owner)>, denied: Vec<u32>) -> OwnerMap {
        OwnerMap::with_counts(pairs, denied, HashMap::new())
    }

    /// [`OwnerMap::from_pairs`] with each process's open-fd count.
    pub fn with_counts(
        mut pairs: Vec<(u64, Owner)>,
        denied: Vec<u32>,
        fd_counts: HashMap<u32, u64>,
    ) -> OwnerMap {
        pairs.sort_unstable();
        let (inodes, owners) = pairs.into_iter().unzip();
        OwnerMap {
            inodes,
            owners,
            denied,
            fd_counts,
            netns_fds: Vec::new(),
        }
    }
}
