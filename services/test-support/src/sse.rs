//! An SSE client for tests, parsing frames with the `eventsource-stream` crate (a real SSE
//! parser, so framing mistakes in the gateway fail the tests).

use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, anyhow};
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};

/// One parsed SSE event.
#[derive(Clone, Debug)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
    pub retry: Option<Duration>,
}

impl SseEvent {
    /// The data parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = anyhow::Result<SseEvent>> + Send>>;

/// An open SSE stream.
pub struct SseClient {
    pub response_headers: reqwest::header::HeaderMap,
    pub status: reqwest::StatusCode,
    events: EventStream,
}

impl SseClient {
    /// Opens `url` with optional `Last-Event-ID`; fails on a non-2xx status.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, &[]).await
    }

    pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut request = reqwest::Client::new()
            .get(url)
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.context("opening the SSE stream")?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(anyhow!("SSE connect returned {status}: {body}"));
        }
        let response_headers = response.headers().clone();
        let events = response
            .bytes_stream()
            .eventsource()
            .map(|item| {
                item.map(|e| SseEvent {
                    event: e.event,
                    id: e.id,
                    data: e.data,
                    retry: e.retry,
                })
                .map_err(|e| anyhow!("SSE parse error: {e}"))
            })
            .boxed();
        Ok(Self {
            response_headers,
            status,
            events,
        })
    }

    /// The next event, or an error after `timeout` or when the stream ends.
    pub async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<SseEvent> {
        match tokio::time::timeout(timeout, self.events.next()).await {
            Err(_) => Err(anyhow!("no SSE event within {timeout:?}")),
            Ok(None) => Err(anyhow!("the SSE stream ended")),
            Ok(Some(event)) => event,
        }
    }

    /// The next event named `name`, skipping others (heartbeats, …).
    pub async fn next_named(&mut self, name: &str, timeout: Duration) -> anyhow::Result<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self
                .next_event(left)
                .await
                .with_context(|| format!("waiting for `{name}`"))?;
            if event.event == name {
                return Ok(event);
            }
        }
    }

    /// Waits for the stream to end; returns the events seen before the end.
    pub async fn until_end(&mut self, timeout: Duration) -> anyhow::Result<Vec<SseEvent>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.events.next()).await {
                Err(_) => return Err(anyhow!("the stream did not end within {timeout:?}")),
                Ok(None) => return Ok(seen),
                Ok(Some(Ok(event))) => seen.push(event),
                Ok(Some(Err(_))) => return Ok(seen),
            }
        }
    }
}
