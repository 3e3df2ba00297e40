//! Event history: every event published through [`crate::Publisher`] is kept in a capped
//! per-channel stream and carries its stream id as `eventId`, so a client that reconnects
//! can be sent exactly what it missed.
//!
//! The wire form is the event JSON with `"eventId"` as its first field. The same tagging is
//! applied when the gateway replays from the stream, so live and replayed events are
//! byte-identical.

use std::cmp::Ordering;
use std::fmt;

/// Defaults: 1000 events per channel, kept one hour after the last event.
pub const DEFAULT_MAXLEN: u64 = 1000;
pub const DEFAULT_TTL_SECS: u64 = 3600;

/// The history stream of a channel. The hash tag is the whole channel name, so the stream
/// lives on the channel's slot on a Redis Cluster.
pub fn history_key(channel: &str) -> String {
    crate::text::joined(&["sse:hist:{", channel, "}"])
}

/// A Redis stream id (`<ms>-<seq>`), ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// Before every event: the position of a stream that subscribed to a channel with no
    /// history yet (everything its history gets later is after the subscription).
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    /// After every event.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl PartialOrd for StreamId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StreamId {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

const PREFIX: &str = "{\"eventId\":\"";

/// The event JSON object with `"eventId"` inserted as its first field.
pub fn tag(payload: &str, id: StreamId) -> Option<String> {
    let rest = payload.trim_start().strip_prefix('{')?.trim_start();
    Some(if rest.starts_with('}') {
        format!("{PREFIX}{id}\"}}")
    } else {
        format!("{PREFIX}{id}\",{rest}")
    })
}

/// The `eventId` of a tagged payload, read from its prefix (no JSON parsing).
pub fn event_id(payload: &[u8]) -> Option<StreamId> {
    let rest = payload.strip_prefix(PREFIX.as_bytes())?;
    let end = rest.iter().position(|b| *b == b'"')?;
    StreamId::parse(std::str::from_utf8(&rest[..end]).ok()?)
}

/// The Lua script that appends to history and publishes in one step.
pub const PUBLISH_SCRIPT: &str = include_str!("lua/publish.lua");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_reads_back() {
        let id = StreamId {
            ms: 1_700_000_000_000,
            seq: 3,
        };
        let tagged = tag(r#"{"type":"job_update","progress":5}"#, id).unwrap();
        assert_eq!(
            tagged,
            r#"{"eventId":"1700000000000-3","type":"job_update","progress":5}"#
        );
        assert_eq!(event_id(tagged.as_bytes()), Some(id));
        assert_eq!(tag("{}", id).unwrap(), r#"{"eventId":"1700000000000-3"}"#);
        assert_eq!(
            tag(" { \"a\":1}", id).unwrap(),
            r#"{"eventId":"1700000000000-3","a":1}"#
        );
        assert!(tag("[1]", id).is_none());
        assert!(event_id(br#"{"type":"x"}"#).is_none());
    }

    #[test]
    fn ids_order_numerically() {
        let a = StreamId::parse("9-0").unwrap();
        let b = StreamId::parse("10-0").unwrap();
        assert!(a < b);
        assert!(StreamId::parse("10-1").unwrap() > b);
        assert!(StreamId::parse("x-1").is_none());
    }

    #[test]
    fn keys_carry_the_channel_as_hash_tag() {
        assert_eq!(history_key("job:123"), "sse:hist:{job:123}");
    }
}
