//! Coalescing for slow consumers: when a stream's queue is past its high-water mark, a new
//! intermediate `job_update` replaces the newest queued update of the same job in place
//! (latest progress wins), so a slow reader's queue stops growing without closing it.
//!
//! Only intermediate job updates coalesce: a `job_update` whose `status` is a known
//! non-terminal one (`waiting`, `started`, `in_progress`, `retrying`; read once, by
//! [`progress_contract::incoming::Incoming::is_intermediate`]). `completed`, `failed`,
//! updates without a recognised status, and every other event are never dropped or merged.
//!
//! An update only ever replaces the *newest* queued event of its channel, and only when that
//! one is itself intermediate, so each job's events keep their order (the progress a client
//! sees is a subsequence of what was published) and nothing overtakes a terminal event.
//!
//! Lookups scan the queue from the back. The queue is bounded (`CLIENT_BUFFER_EVENTS`), the
//! scan only runs for streams already past the high-water mark, and it stops at the first
//! event of the same channel — with one busy job that is within the last few items. A
//! per-channel index would cost every push on every stream to save work on the few that lag.

use std::collections::VecDeque;
use std::sync::Arc;

use super::item::Item;

/// Queue length from which intermediate updates coalesce: three quarters of the capacity.
/// The quarter above it is headroom for events that never coalesce (terminal updates, other
/// channels, heartbeats), so a lagging client gets its `completed` without being closed.
pub fn high_water(capacity: usize) -> usize {
    capacity - capacity / 4
}

/// Where the newest queued event of `channel` is, if it is an intermediate update.
pub fn newest_intermediate(items: &VecDeque<Item>, channel: &str) -> Option<usize> {
    let index = items
        .iter()
        .rposition(|queued| queued.channel.as_deref() == Some(channel))?;
    items[index].coalescable.then_some(index)
}

/// Drops every intermediate update whose channel's next queued event is also an intermediate
/// update (it supersedes it). Returns how many were dropped. Runs only on a full queue.
pub fn compact(items: &mut VecDeque<Item>) -> usize {
    // Walking from the back: per channel, whether its next (later) event is intermediate.
    let mut next_is_intermediate: Vec<(Arc<str>, bool)> = Vec::new();
    let mut superseded = vec![false; items.len()];
    for (index, item) in items.iter().enumerate().rev() {
        let Some(channel) = &item.channel else {
            continue;
        };
        match next_is_intermediate.iter_mut().find(|(c, _)| c == channel) {
            Some((_, next)) => {
                superseded[index] = item.coalescable && *next;
                *next = item.coalescable;
            }
            None => next_is_intermediate.push((channel.clone(), item.coalescable)),
        }
    }
    let dropped = superseded.iter().filter(|s| **s).count();
    if dropped > 0 {
        let mut index = 0;
        items.retain(|_| {
            let keep = !superseded[index];
            index += 1;
            keep
        });
    }
    dropped
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn item(channel: &str, body: &'static str, coalescable: bool) -> Item {
        Item {
            body: Bytes::from_static(body.as_bytes()),
            history: None,
            channel: Some(Arc::from(channel)),
            coalescable,
        }
    }

    fn bodies(items: &VecDeque<Item>) -> Vec<&[u8]> {
        items.iter().map(|i| &i.body[..]).collect()
    }

    #[test]
    fn high_water_leaves_a_quarter_of_headroom() {
        assert_eq!(high_water(256), 192);
        assert_eq!(high_water(8), 6);
        assert_eq!(high_water(1), 1);
    }

    #[test]
    fn finds_the_newest_event_of_the_channel_only_if_intermediate() {
        let items: VecDeque<Item> = [
            item("job:a", "a1", true),
            item("job:b", "b1", true),
            item("job:a", "a2", true),
            item("job:b", "b-done", false),
        ]
        .into();
        assert_eq!(newest_intermediate(&items, "job:a"), Some(2));
        assert_eq!(newest_intermediate(&items, "job:b"), None);
        assert_eq!(newest_intermediate(&items, "job:c"), None);
    }

    #[test]
    fn compaction_keeps_order_terminals_and_the_latest_per_run() {
        let mut items: VecDeque<Item> = [
            item("job:a", "a1", true),
            Item::plain(Bytes::from_static(b"heartbeat")),
            item("job:b", "b1", true),
            item("job:a", "a2", true),
            item("job:a", "a-done", false),
            item("job:a", "a3", true),
            item("job:b", "b2", true),
            item("queue:q", "q1", false),
            item("queue:q", "q2", false),
        ]
        .into();
        assert_eq!(compact(&mut items), 2);
        assert_eq!(
            bodies(&items),
            [
                &b"heartbeat"[..],
                b"a2",
                b"a-done",
                b"a3",
                b"b2",
                b"q1",
                b"q2"
            ]
        );
        assert_eq!(compact(&mut items), 0, "nothing left to supersede");
    }
}
