//! How a [`Snapshot`](crate::model::Snapshot) is gathered: socket sources
//! behind the [`Collector`] trait, the owner walk, and the join of the two.
//!
//! OS-specific code lives in one folder per OS (`linux/`); nothing above this
//! module names an OS.

use crate::error::Result;
use crate::model::{Query, Socket, Source};

#[cfg(target_os = "linux")]
pub mod linux;

pub mod host;
mod snapshot;
pub use snapshot::{Options, SourceChoice, take};

/// A source of sockets.
pub trait Collector {
    /// Which source this is.
    fn source(&self) -> Source;
    /// Appends to `out` every socket the query wants (and possibly more).
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()>;
}
