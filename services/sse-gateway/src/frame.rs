//! SSE framing. Frames are built once per event and shared (as `Bytes`) by every stream that
//! receives them.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use progress_contract::events::StreamEvent;

/// `event: NAME\n[id: ID\n]data: DATA\n\n`. `data` must be a single line.
pub fn event_frame(event: &str, id: Option<&str>, data: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(event.len() + data.len() + 24);
    frame.put_slice(b"event: ");
    frame.put_slice(event.as_bytes());
    if let Some(id) = id {
        frame.put_slice(b"\nid: ");
        frame.put_slice(id.as_bytes());
    }
    frame.put_slice(b"\ndata: ");
    frame.put_slice(data);
    frame.put_slice(b"\n\n");
    frame.freeze()
}

/// `frame` preceded by a `retry:` field (the client's reconnect delay).
pub fn with_retry(millis: u64, frame: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 20);
    out.put_slice(format!("retry: {millis}\n").as_bytes());
    out.put_slice(frame);
    out.freeze()
}

/// A gateway event (`connected`, `subscribed`, …) as a frame.
pub fn stream_event(event: &StreamEvent) -> Bytes {
    // Serialising these plain structs cannot fail.
    let data = serde_json::to_vec(event).unwrap_or_default();
    event_frame(event.name(), None, &data)
}

/// Why a published payload is not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    Oversize,
    Malformed,
}

impl Rejected {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejected::Oversize => "oversize",
            Rejected::Malformed => "malformed",
        }
    }
}

/// Checks that `payload` is one JSON object within `max_bytes`, and returns it on one line
/// (pretty-printed JSON from a foreign publisher is compacted; SSE data cannot hold newlines).
pub fn checked_payload(payload: &[u8], max_bytes: usize) -> Result<Cow<'_, [u8]>, Rejected> {
    if payload.len() > max_bytes {
        return Err(Rejected::Oversize);
    }
    let starts_as_object = payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_as_object {
        return Err(Rejected::Malformed);
    }
    if payload.contains(&b'\n') || payload.contains(&b'\r') {
        let value: serde_json::Value =
            serde_json::from_slice(payload).map_err(|_| Rejected::Malformed)?;
        return serde_json::to_vec(&value)
            .map(Cow::Owned)
            .map_err(|_| Rejected::Malformed);
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map_err(|_| Rejected::Malformed)?;
    Ok(Cow::Borrowed(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_events() {
        let frame = event_frame("job_update", None, br#"{"a":1}"#);
        assert_eq!(&frame[..], b"event: job_update\ndata: {\"a\":1}\n\n");
        let frame = event_frame("x", Some("5-0"), b"{}");
        assert_eq!(&frame[..], b"event: x\nid: 5-0\ndata: {}\n\n");
        assert_eq!(
            &with_retry(3000, b"event: a\ndata: {}\n\n")[..],
            b"retry: 3000\nevent: a\ndata: {}\n\n"
        );
    }

    #[test]
    fn checks_payloads() {
        assert_eq!(
            checked_payload(br#"{"a":1}"#, 100).unwrap().as_ref(),
            br#"{"a":1}"#
        );
        assert_eq!(
            checked_payload(b"{\n  \"a\": 1\n}", 100).unwrap().as_ref(),
            br#"{"a":1}"#
        );
        assert_eq!(checked_payload(b"not json", 100), Err(Rejected::Malformed));
        assert_eq!(checked_payload(b"[1,2]", 100), Err(Rejected::Malformed));
        assert_eq!(checked_payload(br#"{"a":"#, 100), Err(Rejected::Malformed));
        assert_eq!(
            checked_payload(br#"{"a":1} x"#, 100),
            Err(Rejected::Malformed)
        );
        assert_eq!(checked_payload(&[b' '; 101], 100), Err(Rejected::Oversize));
    }
}
