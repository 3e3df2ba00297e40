//! Benchmark events: a job update carrying its per-channel sequence number and the publish
//! time, padded to a fixed size so both servers carry the same bytes.
//!
//! Sequence 0 is a warm-up event (it proves a stream is subscribed end to end and is not
//! measured); measured events are numbered from 1 on each channel.

/// Microseconds since the Unix epoch (the publisher and the clients share this clock).
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The event JSON: at least `size` bytes long, exactly `size` whenever the fixed fields fit.
pub fn event(job: &str, seq: u64, ts_micros: u64, size: usize) -> String {
    let head = format!(
        r#"{{"type":"job_update","jobId":"{job}","status":"in_progress","progress":50,"seq":{seq},"ts":{ts_micros}"#
    );
    // `,"pad":""}` is 10 bytes.
    let pad = size.saturating_sub(head.len() + 10);
    let mut out = String::with_capacity(head.len() + 10 + pad);
    out.push_str(&head);
    out.push_str(r#","pad":""#);
    out.extend(std::iter::repeat_n('x', pad));
    out.push_str(r#""}"#);
    out
}

/// What a received event says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    pub seq: u64,
    pub ts_micros: u64,
}

/// Reads `seq` and `ts` from an event's data without parsing the whole JSON.
pub fn marks(data: &[u8]) -> Option<Marks> {
    Some(Marks {
        seq: number_after(data, b"\"seq\":")?,
        ts_micros: number_after(data, b"\"ts\":")?,
    })
}

fn number_after(data: &[u8], key: &[u8]) -> Option<u64> {
    let at = data.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = data[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    std::str::from_utf8(&data[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_the_requested_size_and_read_back() {
        let small = event("b-1", 7, 1_700_000_000_000_000, 10);
        assert!(small.len() > 10, "fields are never cut");
        for size in [150, 300, 1024] {
            let json = event("bench-42", 12_345, 1_700_000_000_123_456, size);
            assert_eq!(json.len(), size);
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["seq"], 12_345);
            assert_eq!(
                marks(json.as_bytes()),
                Some(Marks {
                    seq: 12_345,
                    ts_micros: 1_700_000_000_123_456
                })
            );
        }
        // As the gateway delivers it: the history id first.
        let tagged = format!("{{\"eventId\":\"1-0\",{}", &event("j", 3, 9, 0)[1..]);
        assert_eq!(
            marks(tagged.as_bytes()),
            Some(Marks {
                seq: 3,
                ts_micros: 9
            })
        );
        assert_eq!(marks(br#"{"type":"heartbeat","timestamp":1}"#), None);
    }
}
