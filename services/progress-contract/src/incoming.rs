//! One parsed view of a message received on a progress channel, built in one pass: whether it
//! is one JSON object within the size limit, the line it is framed as, its history id, its job
//! status (what coalescing reads) and the trace it continues. The gateway reads a message
//! through this view only, live or replayed.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::events::JobStatus;
use crate::history::{self, StreamId};

/// Why a message is not an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Larger than the limit.
    TooLarge,
    /// Not one JSON object.
    Malformed,
}

/// A received event, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming<'a> {
    /// The event as one line of JSON: the payload itself, or re-written without its line
    /// breaks (SSE `data:` is one line).
    pub json: Cow<'a, [u8]>,
    /// The history id the publisher put first (`{"eventId":"…"`), read from the prefix.
    pub event_id: Option<StreamId>,
    /// `status`, when it is one known job status (given once).
    pub status: Option<JobStatus>,
    /// The W3C `traceparent` the event carries (a plain 55-character value), if any.
    pub traceparent: Option<&'a str>,
}

impl<'a> Incoming<'a> {
    /// Parses `payload`, which must be one JSON object of at most `max_bytes`.
    pub fn parse(payload: &'a [u8], max_bytes: usize) -> Result<Self, Invalid> {
        if payload.len() > max_bytes {
            return Err(Invalid::TooLarge);
        }
        let starts_as_object = payload
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if !starts_as_object {
            return Err(Invalid::Malformed);
        }
        if payload.contains(&b'\n') || payload.contains(&b'\r') {
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|_| Invalid::Malformed)?;
            let json = serde_json::to_vec(&value).map_err(|_| Invalid::Malformed)?;
            let traceparent = scan(payload).map_or(None, |fields| fields.traceparent);
            let status = scan(&json).map_or(None, |fields| fields.status());
            return Ok(Self {
                event_id: history::event_id(&json),
                status,
                traceparent,
                json: Cow::Owned(json),
            });
        }
        // Skipping a value does not check the UTF-8 of its strings: check it first.
        std::str::from_utf8(payload).map_err(|_| Invalid::Malformed)?;
        let fields = scan(payload).map_err(|_| Invalid::Malformed)?;
        Ok(Self {
            json: Cow::Borrowed(payload),
            event_id: history::event_id(payload),
            status: fields.status(),
            traceparent: fields.traceparent,
        })
    }

    /// Intermediate progress that a newer update of the same job may supersede: a known
    /// status that is not final.
    pub fn is_intermediate(&self) -> bool {
        self.status.is_some_and(|status| !status.is_terminal())
    }
}

/// The top-level fields read in the one pass.
#[derive(Default)]
struct Fields<'a> {
    status: Option<JobStatus>,
    /// How many `status` fields the object has (only one counts).
    statuses: usize,
    traceparent: Option<&'a str>,
}

impl Fields<'_> {
    fn status(&self) -> Option<JobStatus> {
        if self.statuses == 1 {
            self.status
        } else {
            None
        }
    }
}

/// The visitor methods of a value that is not a string: each is read past and gives `None`.
macro_rules! none_for_values_other_than_strings {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| None)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_map(map).map(|_| None)
        }
    };
}

/// Validates `json` as one JSON value and reads its top-level fields.
fn scan(json: &[u8]) -> Result<Fields<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let fields = deserializer.deserialize_any(FieldsVisitor)?;
    deserializer.end()?;
    Ok(fields)
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Status => {
                    fields.statuses += 1;
                    fields.status = map.next_value_seed(StatusSeed)?;
                }
                Key::Traceparent => {
                    if let Some(value) = map.next_value_seed(BorrowedSeed)?
                        && is_traceparent(value)
                    {
                        fields.traceparent = Some(value);
                    }
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

/// The top-level keys the pass reads (compared without copying them).
enum Key {
    Status,
    Traceparent,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(match key {
            "status" => Key::Status,
            "traceparent" => Key::Traceparent,
            _ => Key::Other,
        })
    }
}

/// A 55-character `traceparent` of hex digits and dashes.
fn is_traceparent(value: &str) -> bool {
    value.len() == 55 && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Any JSON value; a known job status when it is one.
struct StatusSeed;

impl<'de> DeserializeSeed<'de> for StatusSeed {
    type Value = Option<JobStatus>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(StatusVisitor)
    }
}

struct StatusVisitor;

impl<'de> Visitor<'de> for StatusVisitor {
    type Value = Option<JobStatus>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        use serde::de::IntoDeserializer;
        let word: de::value::StrDeserializer<'_, E> = value.into_deserializer();
        Ok(serde::Deserialize::deserialize(word).ok())
    }

    none_for_values_other_than_strings!();
}

/// Any JSON value; the string itself when it is one without escapes.
struct BorrowedSeed;

impl<'de> DeserializeSeed<'de> for BorrowedSeed {
    type Value = Option<&'de str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(BorrowedVisitor)
    }
}

struct BorrowedVisitor;

impl<'de> Visitor<'de> for BorrowedVisitor {
    type Value = Option<&'de str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Some(value))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    none_for_values_other_than_strings!();
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;

    fn view(json: &str) -> Incoming<'_> {
        Incoming::parse(json.as_bytes(), MAX).unwrap()
    }

    #[test]
    fn reads_the_id_the_status_and_the_trace_in_one_pass() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let json = format!(
            r#"{{"eventId":"5-1","type":"job_update","status":"in_progress","data":{{"status":"completed"}},"traceparent":"{traceparent}"}}"#
        );
        let incoming = view(&json);
        assert_eq!(incoming.event_id, Some(StreamId { ms: 5, seq: 1 }));
        assert_eq!(incoming.status, Some(JobStatus::InProgress));
        assert!(incoming.is_intermediate());
        assert_eq!(incoming.traceparent, Some(traceparent));
        assert!(matches!(incoming.json, Cow::Borrowed(_)));
    }

    #[test]
    fn only_known_non_terminal_statuses_are_intermediate() {
        for status in ["waiting", "started", "in_progress", "retrying"] {
            let json = format!(r#"{{"jobId":"1","status":"{status}","progress":5}}"#);
            assert!(view(&json).is_intermediate(), "{status}");
        }
        for json in [
            r#"{"jobId":"1","status":"completed","progress":100}"#,
            r#"{"jobId":"1","status":"failed","error":"x"}"#,
            r#"{"jobId":"1","status":"cancelled"}"#,
            r#"{"jobId":"1","status":"exploded"}"#,
            r#"{"jobId":"1","status":5}"#,
            r#"{"jobId":"1","status":"started","status":"started"}"#,
            r#"{"jobId":"1","progress":5}"#,
        ] {
            assert!(!view(json).is_intermediate(), "{json}");
        }
    }

    #[test]
    fn the_id_is_read_only_from_the_prefix_and_a_bad_trace_is_none() {
        let incoming = view(r#"{ "eventId":"5-1","traceparent":"00-short"}"#);
        assert_eq!(incoming.event_id, None);
        assert_eq!(incoming.traceparent, None);
    }

    #[test]
    fn line_breaks_are_written_out() {
        let incoming = view("{\"eventId\":\"1-0\",\n \"status\":\"started\"}");
        assert_eq!(
            &incoming.json[..],
            br#"{"eventId":"1-0","status":"started"}"#
        );
        assert_eq!(incoming.status, Some(JobStatus::Started));
    }

    #[test]
    fn refuses_what_is_not_one_object_within_the_limit() {
        for json in ["[1]", "\"x\"", "{", "{} {}", "{\"a\":1} x", ""] {
            assert_eq!(
                Incoming::parse(json.as_bytes(), MAX),
                Err(Invalid::Malformed),
                "{json}"
            );
        }
        assert_eq!(
            Incoming::parse(b"{\"a\":\"\xff\"}", MAX),
            Err(Invalid::Malformed)
        );
        assert_eq!(Incoming::parse(b"{}", 1), Err(Invalid::TooLarge));
    }
}
