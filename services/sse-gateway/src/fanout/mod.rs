//! The fan-out core, without I/O: the routes table (channel → streams), one stream's outbox (queue, coalescing, de-duplication,
//! holds), its position in every channel's history, and the [`Sink`] it is drained to. The
//! transport implements the sink for a socket; tests drive it without one.
//!
//! - [`connection`]: one stream: its outbox, position and channels, and their lock order.
//! - `item`: one queued frame, and the outcome of queueing it.
//! - `outbox`: the bounded queue, held live events, de-duplication by history id.
//! - `coalesce`: a lagging stream's intermediate job updates, latest wins.
//! - `position`: what was written, per channel; the one place events are numbered.
//! - `drain`: the outbox written into the sink (the direct-write fast path) or a polled body.
//! - [`sink`]: the interface the transport implements.
//! - [`table`]: the routes table: open streams, and which of them want each channel.
//! - `id_line`: the SSE `id:` line that numbers a delivered event.

pub(crate) mod coalesce;
pub mod connection;
mod drain;
mod id_line;
mod item;
mod outbox;
mod position;
pub mod sink;
pub mod table;

pub use connection::{Connection, ConnectionStream, Item, Push};
pub use sink::{Flushed, MAX_BATCH, Sink};
