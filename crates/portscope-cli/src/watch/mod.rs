//! The live view behind `portscope watch`: what it remembers between
//! refreshes (`state.rs`), throughput from tcp_info counters (`rate.rs`),
//! which sockets it shows in which order (`view.rs`), how keys change it
//! (`app.rs`), how a frame is drawn (`draw.rs`), and the threads and the
//! terminal that run it (`run.rs`).
//!
//! Everything but `run.rs` is pure and unit-tested; the command itself is
//! `cmd/watch.rs`.

pub mod app;
pub mod draw;
pub mod run;
pub mod view;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
