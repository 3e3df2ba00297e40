//! The `Last-Event-ID` a reconnecting EventSource sends (or `?lastEventId=`): the SSE `id:`
//! of the last event it received, `{connectionId}:{n}`, or `{connectionId}:{n}:{eventId}`
//! on a stream with one channel (the event's id in that channel's history). Anything else —
//! including the ids of other systems and garbage — means "no resume point", never an error.

use progress_contract::history::StreamId;
use uuid::Uuid;

/// Longest value considered (a UUID, a `u64` and a history id are at most 99 bytes).
const MAX_LEN: usize = 128;

/// A parsed resume point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastEventId {
    pub connection: Uuid,
    /// Number of the last event received on the stream.
    pub seen: u64,
    /// That event's id in its channel's history (streams with one channel).
    pub event: Option<StreamId>,
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `{connectionId}:{n}[:{ms}-{seq}]` → the resume point.
pub fn parse(text: &str) -> Option<LastEventId> {
    let text = text.trim();
    if text.len() > MAX_LEN {
        return None;
    }
    let (head, last) = text.rsplit_once(':')?;
    let (id, seen, event) = match last.split_once('-') {
        Some((ms, seq)) => {
            let event = StreamId {
                ms: number(ms)?,
                seq: number(seq)?,
            };
            let (id, seen) = head.rsplit_once(':')?;
            (id, number(seen)?, Some(event))
        }
        None => (head, number(last)?, None),
    };
    Some(LastEventId {
        connection: Uuid::parse_str(id).ok()?,
        seen,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gateway_ids_only() {
        let id = Uuid::new_v4();
        let point = |seen, event| {
            Some(LastEventId {
                connection: id,
                seen,
                event,
            })
        };
        assert_eq!(parse(&format!("{id}:42")), point(42, None));
        assert_eq!(parse(&format!(" {id}:0 ")), point(0, None));
        assert_eq!(
            parse(&format!("{id}:7:1700000000000-3")),
            point(
                7,
                Some(StreamId {
                    ms: 1_700_000_000_000,
                    seq: 3
                })
            )
        );
        assert_eq!(
            parse(&format!(
                "{id}:18446744073709551615:18446744073709551615-18446744073709551615"
            )),
            point(
                u64::MAX,
                Some(StreamId {
                    ms: u64::MAX,
                    seq: u64::MAX
                })
            )
        );
        for bad in [
            format!("{id}:1:2-"),
            format!("{id}:1:-2"),
            format!("{id}:1:2-3-4"),
            format!("{id}::2-3"),
            format!("{id}:1:2:3-4"),
            format!("{id}:x:2-3"),
            format!("{id}-1"),
            String::new(),
            "42".into(),
            format!("{id}"),
            format!("{id}:"),
            format!("{id}:-1"),
            format!("{id}:+1"),
            format!("{id}:1:2"),
            format!("{id}:99999999999999999999999"),
            format!("x{id}:1"),
            "1700000000000-0".into(),
            format!("{id}:{}", "1".repeat(200)),
        ] {
            assert_eq!(parse(&bad), None, "{bad:?}");
        }
    }
}
