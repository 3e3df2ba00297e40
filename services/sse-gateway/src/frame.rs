//! SSE framing. Frames are built once per event and shared (as `Bytes`) by every stream that
//! receives them.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use progress_contract::events::StreamEvent;
use progress_contract::incoming::{Incoming, Invalid};

/// `event: NAME\n[id: ID\n]data: DATA\n\n`: always exactly one event. Callers pass valid
/// names and one-line JSON; should a CR or LF slip through anyway, it is dropped from the name
/// and id and becomes a space in the data (in JSON, a raw line break can only be whitespace
/// between tokens), so no input can end a field early or inject a field or an event.
pub fn event_frame(event: &str, id: Option<&str>, data: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(event.len() + data.len() + 24);
    frame.put_slice(b"event: ");
    put_field(&mut frame, event.as_bytes());
    if let Some(id) = id {
        frame.put_slice(b"\nid: ");
        put_field(&mut frame, id.as_bytes());
    }
    frame.put_slice(b"\ndata: ");
    if has_line_break(data) {
        frame.extend(
            data.iter()
                .map(|b| if is_line_break(*b) { b' ' } else { *b }),
        );
    } else {
        frame.put_slice(data);
    }
    frame.put_slice(b"\n\n");
    frame.freeze()
}

fn is_line_break(byte: u8) -> bool {
    byte == b'\n' || byte == b'\r'
}

fn has_line_break(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| is_line_break(*b))
}

/// A name or id field: line breaks and NUL (which ends an id for EventSource) are dropped.
fn put_field(frame: &mut BytesMut, value: &[u8]) {
    if has_line_break(value) || value.contains(&0) {
        frame.extend(
            value
                .iter()
                .copied()
                .filter(|b| !is_line_break(*b) && *b != 0),
        );
    } else {
        frame.put_slice(value);
    }
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
    Incoming::parse(payload, max_bytes)
        .map(|incoming| incoming.json)
        .map_err(Rejected::from)
}

impl From<Invalid> for Rejected {
    fn from(invalid: Invalid) -> Self {
        match invalid {
            Invalid::TooLarge => Rejected::Oversize,
            Invalid::Malformed => Rejected::Malformed,
        }
    }
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

    /// Splits a stream the way the SSE specification does: lines end at CRLF, LF or CR.
    fn lines(frame: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(frame)
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .split('\n')
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn nothing_can_inject_a_line() {
        let frame = event_frame(
            "note\r\nevent: connected",
            Some("1\nretry: 1"),
            b"{\"a\":\r\n1}\n\ndata: x",
        );
        assert_eq!(
            lines(&frame),
            [
                "event: noteevent: connected",
                "id: 1retry: 1",
                "data: {\"a\":  1}  data: x",
                "",
                ""
            ]
        );
        let frame = event_frame("a\0b", Some("x\0y"), b"{}");
        assert_eq!(&frame[..], b"event: ab\nid: xy\ndata: {}\n\n");
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
        // Fuzz regression: invalid UTF-8 inside a string is not JSON.
        assert_eq!(
            checked_payload(b"{\"t\x8fs\":50}", 100),
            Err(Rejected::Malformed)
        );
    }
}
