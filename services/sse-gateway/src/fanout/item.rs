//! What an outbox holds: one ready-made frame, and what offering one to a stream came to.

use std::sync::Arc;

use bytes::Bytes;

use super::position::Tagged;

/// One queued frame.
#[derive(Clone, Debug)]
pub struct Item {
    pub body: Bytes,
    pub history: Option<Tagged>,
    /// The channel of a job update or of an event with history (shares the history's
    /// `Arc`): what coalescing matches on.
    pub channel: Option<Arc<str>>,
    /// An intermediate job update: a newer update of the same job may replace it.
    pub coalescable: bool,
}

impl Item {
    pub fn plain(body: Bytes) -> Self {
        Self {
            body,
            history: None,
            channel: None,
            coalescable: false,
        }
    }
}

/// Outcome of queueing a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    Queued,
    /// Queued; this many older intermediate updates queued before it were dropped, each
    /// superseded by a newer update of the same job (the queue was past its high-water mark).
    Coalesced(usize),
    /// Already queued or written (same channel, same or older event id): skipped.
    Duplicate,
    /// The queue was full: the frame was not queued.
    Full,
    /// The stream is closing: the frame was not queued.
    Closed,
}
