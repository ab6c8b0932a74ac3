//! The [`Dump`] of an rtnetlink dump that keeps one thing per message: the
//! address dump (`host.rs`) and the link dump (`links.rs`) differ only in
//! the message type they read and what they make of it.

use super::Progress;
use super::transport::{Dump, walk_messages};
use crate::error::Result;

/// A dump being read (see [`super::transport::Transport::dump`]) that
/// hands each message of type `kind` to `read`, which adds what it finds
/// to `out`. Messages of another sequence number are skipped.
pub(crate) struct Collect<T> {
    kind: u16,
    read: fn(&[u8], &mut T),
    seq: u32,
    interrupted: bool,
    /// What the dump gave so far.
    pub(crate) out: T,
}

impl<T: Default> Collect<T> {
    /// An empty dump of messages of type `kind`.
    pub(crate) fn new(kind: u16, read: fn(&[u8], &mut T)) -> Collect<T> {
        Collect::resume(kind, read, 0, T::default())
    }

    /// A dump of sequence `seq` that already holds `out` (parsing one
    /// buffer at a time).
    pub(crate) fn resume(kind: u16, read: fn(&[u8], &mut T), seq: u32, out: T) -> Collect<T> {
        Collect {
            kind,
            read,
            seq,
            interrupted: false,
            out,
        }
    }
}

impl<T: Default> Dump for Collect<T> {
    fn begin(&mut self, seq: u32) {
        self.seq = seq;
        self.interrupted = false;
    }
    fn feed(&mut self, buf: &[u8]) -> Result<Progress> {
        let (kind, read) = (self.kind, self.read);
        let out = &mut self.out;
        walk_messages(buf, Some(self.seq), &mut self.interrupted, |k, payload| {
            if k == kind {
                read(payload, out);
            }
            Ok(())
        })
    }
    fn interrupted(&self) -> bool {
        self.interrupted
    }
    fn abandon(&mut self) {
        self.out = T::default();
    }
}
