//! One stream's outbox, without I/O: the bounded queue of ready-made frames, the live events
//! held back while a replay is queued, de-duplication by history id, and coalescing for a
//! lagging reader (see [`super::coalesce`]).
//!
//! Kept small on purpose: an idle stream's outbox is an empty `VecDeque`, a waker and its
//! sink. Event bodies are shared `Bytes`, so an event fanned out to many streams is one
//! allocation; only the short `id:` line is per stream, made when the event is written.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use bytes::Bytes;

use super::coalesce;
pub use super::item::{Item, Push};
use super::position::{Cursors, last_for, set_for};
use super::sink::Sink;

#[derive(Default)]
pub(crate) struct Outbox {
    pub(crate) frames: VecDeque<Item>,
    /// Live events held back while a replay is queued, in arrival order.
    held: Vec<Item>,
    /// Holds on every live event (a resume replaying its channels); they nest.
    pub(crate) holds: usize,
    /// Holds on one channel's live events (a catch-up, a new subscription); they nest.
    held_channels: Vec<(Arc<str>, usize)>,
    /// Newest event id queued per channel (for de-duplication).
    pub(crate) queued: Cursors,
    /// Body to write after its `id:` line (a stream whose body hyper polls).
    pub(crate) pending_body: Option<Bytes>,
    pub(crate) waker: Option<Waker>,
    pub(crate) closed: bool,
    /// Where a stream written directly is drained to (see [`super::sink`]); `None` while the
    /// response has not started, and for streams whose body is polled by hyper.
    pub(crate) sink: Option<Box<dyn Sink>>,
}

impl Outbox {
    /// Whether a live `item` must wait for a replay to be queued first.
    pub(crate) fn is_held(&self, item: &Item) -> bool {
        self.holds > 0
            || item
                .channel
                .as_ref()
                .is_some_and(|channel| self.held_channels.iter().any(|(held, _)| held == channel))
    }

    /// Keeps a live event back until its hold ends; `Full` past four times `capacity`.
    pub(crate) fn hold_back(&mut self, item: Item, capacity: usize) -> Push {
        if self.held.len() >= capacity.saturating_mul(4) {
            return Push::Full;
        }
        self.held.push(item);
        Push::Queued
    }

    /// Queues, in their order, the held events no hold covers any more, skipping what a
    /// replay already queued; returns how many were duplicates.
    pub(crate) fn admit_released(&mut self) -> usize {
        let mut duplicates = 0;
        for item in std::mem::take(&mut self.held) {
            if self.is_held(&item) {
                self.held.push(item);
            } else if self.admit(item) == Push::Duplicate {
                duplicates += 1;
            }
        }
        duplicates
    }

    /// One more hold on `channel`'s live events.
    pub(crate) fn hold_channel(&mut self, channel: &Arc<str>) {
        match self.held_channels.iter_mut().find(|(c, _)| c == channel) {
            Some(entry) => entry.1 += 1,
            None => self.held_channels.push((channel.clone(), 1)),
        }
    }

    /// One hold on `channel` fewer.
    pub(crate) fn release_channel(&mut self, channel: &str) {
        if let Some(index) = self.held_channels.iter().position(|(c, _)| &**c == channel) {
            self.held_channels[index].1 -= 1;
            if self.held_channels[index].1 == 0 {
                self.held_channels.swap_remove(index);
            }
        }
    }

    /// The channel already had this id or a newer one queued or written.
    pub(crate) fn is_duplicate(&self, item: &Item) -> bool {
        item.history.as_ref().is_some_and(|tagged| {
            last_for(&self.queued, &tagged.channel).is_some_and(|last| *last >= tagged.id)
        })
    }

    pub(crate) fn note(&mut self, item: &Item) {
        if let Some(tagged) = &item.history {
            set_for(&mut self.queued, &tagged.channel, tagged.id);
        }
    }

    /// De-duplicates and queues, whatever the length; `Duplicate` when the channel already
    /// had this id or newer.
    pub(crate) fn admit(&mut self, item: Item) -> Push {
        if self.is_duplicate(&item) {
            return Push::Duplicate;
        }
        self.note(&item);
        self.frames.push_back(item);
        Push::Queued
    }

    /// De-duplicates and queues within `capacity`: past the high-water mark an intermediate
    /// update replaces its job's newest queued one; a full queue first drops superseded
    /// updates, and is `Full` only if none was.
    pub(crate) fn offer(&mut self, item: Item, capacity: usize) -> Push {
        if self.is_duplicate(&item) {
            return Push::Duplicate;
        }
        if item.coalescable && self.frames.len() >= coalesce::high_water(capacity) {
            let slot = item
                .channel
                .as_deref()
                .and_then(|channel| coalesce::newest_intermediate(&self.frames, channel));
            if let Some(index) = slot {
                self.note(&item);
                self.frames[index] = item;
                return Push::Coalesced(1);
            }
        }
        let mut dropped = 0;
        if self.frames.len() >= capacity {
            dropped = coalesce::compact(&mut self.frames);
            if self.frames.len() >= capacity {
                return Push::Full;
            }
        }
        self.note(&item);
        self.frames.push_back(item);
        if dropped > 0 {
            Push::Coalesced(dropped)
        } else {
            Push::Queued
        }
    }

    /// Ends the stream abruptly: every hold and everything queued is dropped, `last` is the
    /// final frame. False if it was already closing.
    pub(crate) fn close_with(&mut self, last: Bytes) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        self.held = Vec::new();
        self.holds = 0;
        self.held_channels.clear();
        self.frames.clear();
        self.frames.shrink_to_fit();
        self.frames.push_back(Item::plain(last));
        true
    }

    /// Ends the stream after what is queued and held (nothing is dropped), with `last`. False
    /// if it was already closing.
    pub(crate) fn finish_with(&mut self, last: Bytes) -> bool {
        if self.closed {
            return false;
        }
        self.closed = true;
        self.holds = 0;
        self.held_channels.clear();
        for item in std::mem::take(&mut self.held) {
            self.admit(item);
        }
        self.frames.push_back(Item::plain(last));
        true
    }

    pub(crate) fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Keeps `waker` to be woken when there is something to write.
    pub(crate) fn park(&mut self, waker: &Waker) {
        match &self.waker {
            Some(current) if current.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }
}
