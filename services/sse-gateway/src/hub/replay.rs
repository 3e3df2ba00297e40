//! The one replay routine: "deliver this stream's channels from these positions, then live,
//! without gap or duplicate". Used by a resume (`Last-Event-ID`), by a new subscription's
//! first delivery, and by the catch-up after the Redis subscriber reconnects or lags.
//!
//! The protocol is the same each time:
//! 1. the caller holds the channels' live events back on the stream *before* they can arrive
//!    (a resume holds every live event before the stream is registered; a subscription holds
//!    its channel before its SUBSCRIBE; a catch-up holds each channel before re-subscribing);
//! 2. what the stream missed is read (history from a position, or a first delivery's plan)
//!    and queued here, ahead of the held events, with one `resync` naming the channels whose
//!    events history no longer has;
//! 3. the caller releases the hold: the held live events follow, those the replay already
//!    queued skipped by their history ids.
//!
//! Holds are [`StreamHold`], `ChannelHold` and [`super::CatchUp`]; dropping one
//! releases it on every way out.

use std::sync::Arc;

use progress_contract::events::{Resync, StreamEvent};
use progress_contract::history::{self, StreamId};
use progress_contract::time::now_millis;

use super::{Connection, Hub, Push};
use crate::metrics as m;
use crate::resume::history::Replay;
use crate::resume::points::ResumeFrom;

/// What one channel of a stream is sent before its live events.
#[derive(Debug, Default)]
pub struct Backlog {
    pub channel: Arc<str>,
    /// Events with their history ids, oldest first.
    pub events: Vec<(StreamId, String)>,
    /// An event without a history id, after them (a queue's counts, a worker's status, a
    /// job's snapshot).
    pub state: Option<String>,
    /// Some events are gone from history: the client should refetch (`resync`).
    pub gap: bool,
}

impl Backlog {
    pub fn from_history(channel: Arc<str>, replay: Replay) -> Self {
        Self {
            channel,
            events: replay.events,
            state: None,
            gap: replay.gap,
        }
    }

    /// Nothing to send but `resync` (history could not be read).
    pub fn lost(channel: Arc<str>) -> Self {
        Self {
            channel,
            gap: true,
            ..Self::default()
        }
    }
}

impl Hub {
    /// Reads history for each channel from its point, then queues it all (see
    /// [`Hub::deliver_backlogs`]); nothing is queued when a read fails. Returns how many
    /// events were queued.
    pub async fn replay_from(
        &self,
        connection: &Connection,
        starts: &[(Arc<str>, ResumeFrom)],
    ) -> Result<usize, fred::error::Error> {
        let mut replays = Vec::with_capacity(starts.len());
        for (channel, from) in starts {
            replays.push(self.history.replay(channel, *from).await?);
        }
        Ok(self.deliver_replays(connection, starts, replays))
    }

    /// Queues `replays`, one per channel of `starts` in order (see
    /// [`Hub::deliver_backlogs`]). Returns how many events were queued.
    pub fn deliver_replays(
        &self,
        connection: &Connection,
        starts: &[(Arc<str>, ResumeFrom)],
        replays: Vec<Replay>,
    ) -> usize {
        let backlogs = starts
            .iter()
            .zip(replays)
            .map(|((channel, _), replay)| Backlog::from_history(Arc::clone(channel), replay))
            .collect();
        self.deliver_backlogs(connection, backlogs)
    }

    /// Queues each backlog's events and state on `connection`, ahead of its held live events
    /// (replays are not bounded by the queue's capacity, and are skipped when the stream already
    /// has them), then one `resync` naming the channels with a gap. Returns how many events
    /// were queued.
    pub fn deliver_backlogs(&self, connection: &Connection, backlogs: Vec<Backlog>) -> usize {
        let mut queued = 0;
        let mut gaps = Vec::new();
        for backlog in backlogs {
            let name = self.channel_name(&backlog.channel);
            for (id, payload) in &backlog.events {
                let Some(tagged) = history::tag(payload, *id) else {
                    continue;
                };
                if let Ok(item) = self.progress_item(&name, tagged.as_bytes())
                    && connection.push_replay(item) == Push::Queued
                {
                    queued += 1;
                }
            }
            if let Some(state) = &backlog.state
                && let Ok(item) = self.progress_item(&name, state.as_bytes())
            {
                connection.push_replay(item);
            }
            if backlog.gap {
                gaps.push(name.to_string());
            }
        }
        if !gaps.is_empty() {
            metrics::counter!(m::RESYNCS).increment(1);
            self.send(
                connection,
                &StreamEvent::Resync(Resync {
                    channels: gaps,
                    timestamp: now_millis(),
                }),
            );
        }
        metrics::counter!(m::EVENTS_REPLAYED).increment(queued as u64);
        queued
    }
}

/// A hold on every live event of a stream (see [`Connection::hold`]), released when dropped.
pub struct StreamHold(Arc<Connection>);

impl StreamHold {
    pub fn new(connection: &Arc<Connection>) -> Self {
        connection.hold();
        Self(connection.clone())
    }
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        self.0.release();
    }
}
