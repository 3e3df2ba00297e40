//! The fan-out core, without I/O: one stream's outbox (queue, coalescing, de-duplication,
//! holds) and its position in every channel's history.
//!
//! - [`connection`]: one stream's bounded queue and history position.
//! - `coalesce`: a lagging stream's intermediate job updates, latest wins.
//! - `id_line`: the SSE `id:` line that numbers a delivered event.

pub(crate) mod coalesce;
pub mod connection;
mod id_line;

pub use connection::{Connection, ConnectionStream, Item, Push};
