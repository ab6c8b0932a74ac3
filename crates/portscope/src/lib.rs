//! portscope: every network endpoint on this machine, with the processes
//! behind it and what its port means.
//!
//! The library gathers and models; it never prints. Data flows one way:
//! [`collect`] → [`model`] → [`filter`] → (the binary renders).
//!
//! ```no_run
//! let sys = portscope::collect::Native::new();
//! let snap = portscope::collect::take(&sys, &portscope::collect::Options::default())?;
//! for s in &snap.sockets {
//!     println!("{} {} -> {}", s.proto, s.local, s.remote);
//! }
//! # Ok::<(), portscope::Error>(())
//! ```

pub mod annotate;
pub mod audit;
pub mod collect;
pub mod error;
pub mod events;
pub mod exposure;
pub mod filter;
pub mod forward;
#[cfg(feature = "serde")]
pub mod json;
pub mod map;
pub mod model;
pub mod order;
pub mod resolve;
pub mod services;
pub mod text;
pub mod track;

pub use error::{Error, Result};
pub use model::{Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, TcpState};
pub use text::Text;
