//! Slow consumers (guarantee 5): a lagging reader's intermediate job updates coalesce (latest
//! progress wins, terminal updates never), a reader that keeps up is unaffected, and a reader
//! too far behind on events that cannot coalesce is closed and resumes by `Last-Event-ID`.
//!
//! The slow reader is a raw TCP socket with a 4 KiB receive buffer that stops reading: once
//! the kernel buffers are full its queue in the gateway fills. Its HTTP/1.1 chunked body is
//! decoded and parsed here, so nothing between the socket and the test buffers events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use progress_contract::Channel;
use serde_json::json;
use test_support::{SseClient, SseEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, WAIT, eventually, spawn_app_with};

/// Padding per event, so that a few hundred events overflow the socket buffers.
const PAD: usize = 16 * 1024;

/// An SSE stream read through a raw socket, only when the test asks.
struct RawReader {
    socket: TcpStream,
    raw: Vec<u8>,
    /// Where the next chunk starts in `raw` (after the response head).
    raw_pos: Option<usize>,
    body: Vec<u8>,
    events: VecDeque<SseEvent>,
    ended: bool,
}

impl RawReader {
    async fn open(app: &TestApp, query: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let addr = app.base.trim_start_matches("http://").parse().unwrap();
        let mut socket = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /api/v1/sse/connect{query} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        Self {
            socket,
            raw: Vec::new(),
            raw_pos: None,
            body: Vec::new(),
            events: VecDeque::new(),
            ended: false,
        }
    }

    /// The next event; `None` once the server ended the stream or `WAIT` passed.
    async fn next_event(&mut self) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let mut buf = vec![0u8; 64 * 1024];
            match tokio::time::timeout_at(deadline, self.socket.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0) | Err(_)) => self.ended = true,
                Ok(Ok(n)) => {
                    self.raw.extend_from_slice(&buf[..n]);
                    self.decode();
                }
            }
        }
    }

    async fn next_named(&mut self, name: &str) -> SseEvent {
        loop {
            let event = self
                .next_event()
                .await
                .unwrap_or_else(|| panic!("the raw stream ended before `{name}`"));
            if event.event == name {
                return event;
            }
        }
    }

    /// Decodes complete chunks into `body`, then complete SSE frames into `events`.
    fn decode(&mut self) {
        let mut pos = match self.raw_pos {
            Some(pos) => pos,
            None => match find(&self.raw, b"\r\n\r\n") {
                Some(head) => {
                    assert!(self.raw.starts_with(b"HTTP/1.1 200"), "stream opened");
                    head + 4
                }
                None => return,
            },
        };
        while let Some(line) = find(&self.raw[pos..], b"\r\n") {
            let size_text = std::str::from_utf8(&self.raw[pos..pos + line]).unwrap();
            let size = usize::from_str_radix(size_text.trim(), 16).unwrap();
            let start = pos + line + 2;
            if self.raw.len() < start + size + 2 {
                break;
            }
            if size == 0 {
                self.ended = true;
            }
            self.body.extend_from_slice(&self.raw[start..start + size]);
            pos = start + size + 2;
        }
        self.raw.drain(..pos);
        self.raw_pos = Some(0);
        while let Some(end) = find(&self.body, b"\n\n") {
            let frame: Vec<u8> = self.body.drain(..end + 2).collect();
            self.events
                .push_back(parse_frame(&String::from_utf8(frame).unwrap()));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_frame(frame: &str) -> SseEvent {
    let mut event = SseEvent {
        event: "message".into(),
        id: String::new(),
        data: String::new(),
        retry: None,
    };
    for line in frame.lines() {
        match line.split_once(": ") {
            Some(("event", value)) => event.event = value.to_owned(),
            Some(("id", value)) => event.id = value.to_owned(),
            Some(("data", value)) => event.data = value.to_owned(),
            Some(("retry", value)) => {
                event.retry = Some(Duration::from_millis(value.parse().unwrap()));
            }
            _ => {}
        }
    }
    event
}

fn progress(job: &str, seq: u64) -> String {
    json!({
        "type": "job_update",
        "jobId": job,
        "status": "in_progress",
        "progress": seq.min(99),
        "seq": seq,
        "pad": "p".repeat(PAD),
    })
    .to_string()
}

fn terminal(job: &str, seq: u64, status: &str) -> String {
    json!({
        "type": "job_update",
        "jobId": job,
        "status": status,
        "progress": 100,
        "seq": seq,
        "error": (status == "failed").then_some("the parser gave up"),
    })
    .to_string()
}

async fn publish(app: &TestApp, channel: &str, payload: &str) {
    app.publisher()
        .publish_event(&Channel::parse(channel).unwrap(), payload)
        .await
        .unwrap();
}

/// Events waiting in one stream's queue, from `/sse/stats`.
async fn queued_events(app: &TestApp, connection_id: &str) -> u64 {
    let (_, stats) = app.get_json("/api/v1/sse/stats").await;
    stats["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["connectionId"] == connection_id)
        .and_then(|c| c["queuedEvents"].as_u64())
        .unwrap_or(0)
}

fn seq(event: &SseEvent) -> u64 {
    event.json()["seq"].as_u64().unwrap()
}

fn status_of(event: &SseEvent) -> String {
    event.json()["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn is_terminal(event: &SseEvent) -> bool {
    event.event == "job_update" && matches!(status_of(event).as_str(), "completed" | "failed")
}

/// The number after the connection id in an SSE id (`{connectionId}:{n}[:{eventId}]`).
fn position(event: &SseEvent) -> u64 {
    event.id.split(':').nth(1).unwrap().parse().unwrap()
}

const CAPACITY: usize = 32;
/// Three quarters of `CAPACITY`: where coalescing starts.
const HIGH_WATER: u64 = 24;
/// How far the publisher lets the fast reader fall behind (well under `HIGH_WATER`).
const FAST_LAG: usize = 8;
/// Updates published once the slow reader's queue is at its high-water mark.
const COALESCING_UPDATES: u64 = 200;

/// A job with a paused reader and a fast one, after hundreds of progress updates and a
/// terminal one were published.
struct Published {
    app: TestApp,
    /// The paused reader, nothing read since `subscribed`.
    slow: RawReader,
    slow_id: String,
    /// Progress updates published (seq 0 to n - 1); the terminal update has seq n.
    progress: u64,
    coalesced_before: f64,
}

/// Publishes hundreds of progress updates, then one with `status`, on `job`, which a paused
/// reader and a fast one (checked: it gets every update in order) are subscribed to.
async fn publish_past_a_paused_reader(job: &str, status: &str) -> Published {
    let app = spawn_app_with(|c| {
        c.client_buffer_events = CAPACITY;
        c.slow_client_grace = Duration::from_secs(30);
    })
    .await;
    let channel = format!("job:{job}");
    let mut slow = RawReader::open(&app, &format!("?jobs={job}")).await;
    let slow_id = slow.next_named("connected").await.json()["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    slow.next_named("subscribed").await;
    let (mut fast, _) = app.connect(&format!("?jobs={job}")).await;
    fast.next_named("subscribed", WAIT).await.unwrap();
    app.wait_numsub(&channel, 1).await;
    let coalesced_before = app.metric("sse_events_coalesced_total").await;

    let received = Arc::new(AtomicUsize::new(0));
    let fast_reader = {
        let received = received.clone();
        tokio::spawn(async move {
            let mut events = Vec::new();
            loop {
                let event = fast.next_named("job_update", WAIT).await.unwrap();
                received.fetch_add(1, Ordering::SeqCst);
                let done = is_terminal(&event);
                events.push(event);
                if done {
                    return events;
                }
            }
        })
    };
    // Paced so that the fast reader is never more than FAST_LAG events behind.
    let paced = |n: u64| {
        let received = received.clone();
        async move {
            eventually("the fast reader keeps up", || async {
                received.load(Ordering::SeqCst) + FAST_LAG >= n as usize
            })
            .await;
        }
    };
    let mut published = 0u64;
    while queued_events(&app, &slow_id).await < HIGH_WATER {
        for _ in 0..8 {
            paced(published).await;
            publish(&app, &channel, &progress(job, published)).await;
            published += 1;
        }
        assert!(published < 5_000, "the paused reader's queue never filled");
    }
    for _ in 0..COALESCING_UPDATES {
        paced(published).await;
        publish(&app, &channel, &progress(job, published)).await;
        published += 1;
    }
    publish(&app, &channel, &terminal(job, published, status)).await;

    let fast_events = fast_reader.await.unwrap();
    let seqs: Vec<u64> = fast_events.iter().map(seq).collect();
    assert_eq!(
        seqs,
        (0..=published).collect::<Vec<_>>(),
        "the fast reader got every update in order"
    );
    assert_eq!(status_of(fast_events.last().unwrap()), status);
    let positions: Vec<u64> = fast_events.iter().map(position).collect();
    assert_eq!(positions, (1..=published + 1).collect::<Vec<_>>());
    Published {
        app,
        slow,
        slow_id,
        progress: published,
        coalesced_before,
    }
}

/// Reads `slow` up to its terminal update; returns its job updates.
async fn read_to_terminal(slow: &mut RawReader) -> Vec<SseEvent> {
    let mut updates = Vec::new();
    loop {
        let event = slow.next_event().await.expect("the stream stays open");
        assert_ne!(event.event, "closing", "a coalescing reader is not closed");
        if event.event == "job_update" {
            let done = is_terminal(&event);
            updates.push(event);
            if done {
                return updates;
            }
        }
    }
}

async fn coalesces_up_to(status: &str) {
    let Published {
        app,
        mut slow,
        progress: published,
        coalesced_before: before,
        ..
    } = publish_past_a_paused_reader("hot", status).await;
    eventually("coalescing counted", || async {
        app.metric("sse_events_coalesced_total").await - before >= COALESCING_UPDATES as f64 - 1.0
    })
    .await;

    let updates = read_to_terminal(&mut slow).await;
    let seqs: Vec<u64> = updates.iter().map(seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    assert_eq!(
        seqs.first(),
        Some(&0),
        "nothing dropped below the high-water mark"
    );
    let last = updates.last().unwrap();
    assert_eq!(status_of(last), status, "the terminal update arrived");
    assert_eq!(seq(last), published);
    assert_eq!(
        seqs[seqs.len() - 2],
        published - 1,
        "the latest progress won"
    );
    let coalesced = app.metric("sse_events_coalesced_total").await - before;
    assert_eq!(
        (updates.len() - 1) as f64 + coalesced,
        published as f64,
        "each progress update was either delivered or counted as coalesced"
    );
    let positions: Vec<u64> = updates.iter().map(position).collect();
    assert_eq!(
        positions,
        (1..=updates.len() as u64).collect::<Vec<_>>(),
        "superseded updates took no event number"
    );
    assert_eq!(
        app.metric(r#"sse_connections_closed_total{reason="slow_consumer"}"#)
            .await,
        0.0
    );
}

#[tokio::test]
async fn a_paused_reader_gets_monotonic_progress_then_completed() {
    coalesces_up_to("completed").await;
}

#[tokio::test]
async fn a_paused_reader_gets_monotonic_progress_then_failed() {
    coalesces_up_to("failed").await;
}

#[tokio::test]
async fn a_reader_that_drops_after_a_coalesced_update_resumes_with_the_terminal_one() {
    let Published {
        app,
        mut slow,
        slow_id,
        progress: published,
        ..
    } = publish_past_a_paused_reader("flaky", "failed").await;
    // Read up to the update that superseded others (the first gap), then vanish: what was
    // written after it (the terminal update) never reaches this client.
    let mut previous: Option<u64> = None;
    let last_seen = loop {
        let event = slow.next_named("job_update").await;
        let current = seq(&event);
        if previous.is_some_and(|p| current > p + 1) {
            break event;
        }
        previous = Some(current);
    };
    assert_eq!(
        seq(&last_seen),
        published - 1,
        "the gap ends at the latest progress"
    );
    drop(slow);
    // Both readers are gone (the fast one ended with the terminal update).
    app.wait_numsub("job:flaky", 0).await;

    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last_seen.id)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["connectionId"], slow_id.as_str());
    assert_eq!(connected.json()["resumed"], true);
    let next = resumed.next_named("job_update", WAIT).await.unwrap();
    assert_eq!(
        (seq(&next), status_of(&next).as_str()),
        (published, "failed"),
        "resumed right after the latest progress, with the terminal update"
    );
    assert!(position(&next) > position(&last_seen));
}

#[tokio::test]
async fn a_reader_too_far_behind_on_updates_that_cannot_coalesce_is_closed_and_resumes() {
    let app = spawn_app_with(|c| {
        c.client_buffer_events = 8;
        c.slow_client_grace = Duration::from_secs(30);
    })
    .await;
    // As `POST /queue/add` does, the job has its `waiting` update before anyone subscribes.
    let waiting = json!({"type": "job_update", "jobId": "late", "status": "waiting", "seq": 0});
    publish(&app, "job:late", &waiting.to_string()).await;
    let mut slow = RawReader::open(&app, "?jobs=late&queues=busy").await;
    let slow_id = slow.next_named("connected").await.json()["connectionId"]
        .as_str()
        .unwrap()
        .to_owned();
    slow.next_named("subscribed").await;
    slow.next_named("subscribed").await;
    app.wait_numsub("queue:busy", 1).await;
    let evicted_before = app
        .metric(r#"sse_connections_closed_total{reason="slow_consumer"}"#)
        .await;
    let coalesced_before = app.metric("sse_events_coalesced_total").await;

    // `queue_update`s never coalesce. Once some wait in the queue, the job ends: its
    // `completed` sits in the backlog that the eviction drops.
    let queue_update = |n: u64| {
        json!({"type": "queue_update", "queueName": "busy", "n": n, "pad": "q".repeat(PAD)})
            .to_string()
    };
    let mut sent = 0u64;
    while queued_events(&app, &slow_id).await < 2 {
        publish(&app, "queue:busy", &queue_update(sent)).await;
        sent += 1;
        assert!(sent < 5_000, "the paused reader's queue never filled");
    }
    publish(&app, "job:late", &progress("late", 1)).await;
    publish(&app, "job:late", &terminal("late", 2, "completed")).await;
    let evicted = || async {
        app.metric(r#"sse_connections_closed_total{reason="slow_consumer"}"#)
            .await
            > evicted_before
    };
    while !evicted().await {
        publish(&app, "queue:busy", &queue_update(sent)).await;
        sent += 1;
        assert!(sent < 5_000, "the reader was never closed");
    }
    assert_eq!(
        app.metric("sse_events_coalesced_total").await,
        coalesced_before,
        "nothing could coalesce"
    );

    // The client reads what was written before the eviction, then `closing`, then the end.
    let mut seen = Vec::new();
    let mut last_id = String::new();
    let mut closing = None;
    while let Some(event) = slow.next_event().await {
        if !event.id.is_empty() {
            last_id = event.id.clone();
        }
        match event.event.as_str() {
            "closing" => closing = Some(event),
            "queue_update" | "job_update" => seen.push(event),
            _ => {}
        }
    }
    let closing = closing.expect("a `closing` event before the end");
    assert_eq!(closing.json()["reason"], "slow_consumer");
    assert!(
        !seen.iter().any(is_terminal),
        "the terminal update was in the dropped backlog"
    );

    let url = app.url("/api/v1/sse/connect");
    let mut resumed = SseClient::connect_with(&url, &[("last-event-id", &last_id)])
        .await
        .unwrap();
    let connected = resumed.next_event(WAIT).await.unwrap();
    assert_eq!(connected.json()["connectionId"], slow_id.as_str());
    assert_eq!(connected.json()["resumed"], true);
    let number = |e: &SseEvent| e.json()["n"].as_u64().unwrap();
    let mut queue_numbers: Vec<u64> = seen
        .iter()
        .filter(|e| e.event == "queue_update")
        .map(number)
        .collect();
    let mut job_seqs: Vec<u64> = seen
        .iter()
        .filter(|e| e.event == "job_update")
        .map(seq)
        .collect();
    let mut completed = false;
    while queue_numbers.len() < sent as usize || !completed {
        let event = resumed.next_event(WAIT).await.unwrap();
        match event.event.as_str() {
            "queue_update" => queue_numbers.push(number(&event)),
            "job_update" => {
                completed |= is_terminal(&event);
                job_seqs.push(seq(&event));
            }
            _ => {}
        }
    }
    assert_eq!(
        queue_numbers,
        (0..sent).collect::<Vec<_>>(),
        "every queue update once, in order, across the eviction"
    );
    assert_eq!(
        job_seqs,
        [0, 1, 2],
        "the job's `waiting` (from its history, at subscribe), its progress and its terminal \
         update, once each"
    );
}
