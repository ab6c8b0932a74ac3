//! How a [`Snapshot`](crate::model::Snapshot) is gathered: everything asked
//! of the OS goes through one trait, [`System`]; [`take`] and [`Refresher`]
//! dump sockets and walk owners through it and join the two.
//!
//! OS-specific code lives in one folder per OS (`linux/`), which implements
//! [`System`] for the machine portscope runs on ([`Native`]); nothing else
//! names an OS. [`Recorded`] is a [`System`] made from a saved listing.

use crate::error::Result;
use crate::model::{Query, Socket, Source};

// The one place an OS is chosen: a second OS is a second folder here.
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
pub use linux::system::Linux as Native;

pub mod host;
mod owner_map;
mod recorded;
mod signal;
mod snapshot;
mod subscription;
mod system;
pub use owner_map::OwnerMap;
pub use recorded::Recorded;
pub use signal::{PinError, Pinned, ProcessHandle, Signal, SignalOutcome};
pub use snapshot::{NetnsScope, Options, Refresher, SourceChoice, take};
pub use subscription::{ProcessEvent, Received, Subscription};
pub use system::{CloseOutcome, Dump, System, Walk};

/// A source of sockets.
pub trait Collector {
    /// Which source this is.
    fn source(&self) -> Source;
    /// Appends to `out` every socket the query wants (and possibly more).
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()>;
}
