//! The SSE encoder: whatever the event name, id and payload, a frame is exactly one event
//! whose name and id hold no line break, and whose data is the one-line JSON the payload
//! check let through (or nothing is sent at all).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sse_gateway::frame::{checked_payload, event_frame};

/// Splits like the SSE specification: lines end at CRLF, LF or CR; a blank line ends an event.
fn events(stream: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(stream)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut events = Vec::new();
    let mut fields = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() {
            if !fields.is_empty() {
                events.push(std::mem::take(&mut fields));
            }
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        fields.push((
            name.to_owned(),
            value.strip_prefix(' ').unwrap_or(value).to_owned(),
        ));
    }
    assert!(fields.is_empty(), "a frame ends with a blank line");
    events
}

fuzz_target!(|input: &[u8]| {
    let mut parts = input.splitn(3, |b| *b == 0xff);
    let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let id = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let payload = parts.next().unwrap_or_default();

    let frame = event_frame(&name, id.as_deref(), payload);
    let parsed = events(&frame);
    assert!(parsed.len() <= 1, "one frame, one event");
    let expected_fields = 2 + usize::from(id.is_some());
    if let Some(fields) = parsed.first() {
        assert_eq!(
            fields.len(),
            expected_fields,
            "no injected field: {fields:?}"
        );
        assert_eq!(fields[0].0, "event");
    }

    if let Ok(data) = checked_payload(payload, 64 * 1024) {
        // JSON by the grammar (numbers beyond f64 are valid JSON, so no `Value` here).
        serde_json::from_slice::<serde::de::IgnoredAny>(&data).expect("accepted data is JSON");
        std::str::from_utf8(&data).expect("accepted data is UTF-8");
        assert_eq!(data.iter().find(|b| !b.is_ascii_whitespace()), Some(&b'{'));
        assert!(!data.contains(&b'\n') && !data.contains(&b'\r'), "one line");
        let frame = event_frame("job_update", None, &data);
        let parsed = events(&frame);
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            parsed[0][1].1.as_bytes(),
            &data[..],
            "data arrives unchanged"
        );
    }
});
