//! A stream's place in every channel's history: what has been written to the client, and the
//! one place where a written event is numbered and its SSE `id:` line made.
//!
//! Every event with history is numbered per stream when written, and the stream remembers, per
//! channel, the last event id written. A stream on one channel (a browser watching its job: the
//! common case) writes that event id into the SSE id itself (`id: {connectionId}:{n}:{eventId}`),
//! so its `Last-Event-ID` alone says exactly where to resume and its position never needs
//! writing to Redis while it is open. A stream that has had several channels writes
//! `id: {connectionId}:{n}` and keeps a short log of recent (n, channel, event id), flushed to
//! its session, which maps `n` back to a position on every channel.

use std::collections::VecDeque;
use std::sync::Arc;

use progress_contract::history::StreamId;
use smallvec::SmallVec;
use uuid::Uuid;

use super::id_line;

/// Entries of the recent-delivery log kept per stream.
pub const LOG_LEN: usize = 64;

/// The newest event id per channel. A stream's first channel is kept in place, not in a
/// separate allocation: a stream on one channel (the common case) reads and moves its
/// position without reaching for more memory.
pub type Cursors = SmallVec<[(Arc<str>, StreamId); 1]>;

/// An event's place in a channel's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    pub channel: Arc<str>,
    pub id: StreamId,
}

/// What has been written to the client, per channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Number of the last numbered event written.
    pub seq: u64,
    /// Last event id written, per channel.
    pub cursors: Cursors,
    /// Recent (n, channel, event id), oldest first (kept once the stream has had several
    /// channels).
    pub log: VecDeque<(u64, Arc<str>, StreamId)>,
    /// Changed since the last snapshot, in a way only the session can carry (a stream on one
    /// channel carries its position in its SSE ids).
    pub dirty: bool,
    /// The stream has had more than one channel: SSE ids no longer name a channel's event
    /// id, and the position is flushed to the session.
    pub multi: bool,
}

pub(crate) fn last_for<'a>(
    list: &'a [(Arc<str>, StreamId)],
    channel: &str,
) -> Option<&'a StreamId> {
    list.iter()
        .find(|(c, _)| same_name(c, channel))
        .map(|(_, id)| id)
}

/// Channel names of live events share one allocation (see `Hub::channel_name`): the same
/// pointer settles it without comparing the bytes.
fn same_name(name: &Arc<str>, other: &str) -> bool {
    std::ptr::eq(name.as_ptr(), other.as_ptr()) && name.len() == other.len() || **name == *other
}

/// Sets `channel`'s id. An entry found by its bytes takes `channel`'s allocation, so that the
/// next event of the channel finds it by pointer.
pub(crate) fn set_for(list: &mut Cursors, channel: &Arc<str>, id: StreamId) {
    if let Some(entry) = list.iter_mut().find(|(c, _)| Arc::ptr_eq(c, channel)) {
        entry.1 = id;
    } else if let Some(entry) = list.iter_mut().find(|(c, _)| c == channel) {
        *entry = (channel.clone(), id);
    } else {
        list.push((channel.clone(), id));
    }
}

impl Position {
    /// Numbers a written event of stream `stream` and moves the position; writes its SSE
    /// `id:` line into `line` and returns its length. The only place events are numbered.
    pub(crate) fn record(
        &mut self,
        stream: &Uuid,
        tagged: &Tagged,
        line: &mut [u8; id_line::MAX],
    ) -> usize {
        self.seq += 1;
        let seq = self.seq;
        set_for(&mut self.cursors, &tagged.channel, tagged.id);
        if !self.multi {
            return id_line::write(stream, seq, Some(tagged.id), line);
        }
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back((seq, tagged.channel.clone(), tagged.id));
        self.dirty = true;
        id_line::write(stream, seq, None, line)
    }

    /// From now on the position lives in the session: the log starts with the last event
    /// written, so a client whose last id is that event resumes exactly.
    pub(crate) fn become_multi(&mut self) {
        if self.multi {
            return;
        }
        self.multi = true;
        self.dirty = true;
        if self.seq > 0
            && let [(channel, id)] = self.cursors.as_slice()
        {
            let entry = (self.seq, channel.clone(), *id);
            self.log.push_back(entry);
        }
    }

    /// Sets where a newly subscribed channel's history stands, unless already known.
    pub(crate) fn start_cursor(&mut self, channel: &str, id: StreamId) {
        if last_for(&self.cursors, channel).is_none() {
            self.cursors.push((Arc::from(channel), id));
            // A one-channel stream's session already has it (`since`).
            self.dirty |= self.multi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_found_by_name_takes_the_shared_name() {
        let mut list: Cursors = [(Arc::from("job:a"), StreamId::default())]
            .into_iter()
            .collect();
        let shared: Arc<str> = Arc::from("job:a");
        let id = StreamId { ms: 5, seq: 1 };
        set_for(&mut list, &shared, id);
        assert_eq!(list.len(), 1);
        assert!(
            Arc::ptr_eq(&list[0].0, &shared),
            "the entry holds the shared name"
        );
        assert_eq!(list[0].1, id);
        set_for(&mut list, &Arc::from("job:b"), id);
        assert_eq!(list.len(), 2);
    }
}
