//! `spawn_app()`: a real gateway on ephemeral ports, talking to its own redis-server.

use std::time::Duration;

use fred::prelude::Client;
use progress_contract::Publisher;
use service_runtime::redis::RedisOptions;
use sse_gateway::{Application, GatewayConfig};
use test_support::{RedisServer, SseClient, SseEvent};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub base: String,
    pub admin: String,
    pub redis: RedisServer,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<anyhow::Result<()>>,
    publisher_client: Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut GatewayConfig)) -> TestApp {
    let redis = RedisServer::start();
    let mut config = GatewayConfig::local(redis.url());
    config.redis.redis_command_timeout = Duration::from_secs(2);
    configure(&mut config);
    let app = Application::build(config).await.expect("gateway builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let admin = format!("http://127.0.0.1:{}", app.admin_port());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let publisher_client = RedisOptions::new(redis.url())
        .connect_client()
        .await
        .expect("publisher connects");
    TestApp {
        base,
        admin,
        redis,
        http: reqwest::Client::new(),
        shutdown,
        handle,
        publisher_client,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.publisher_client.clone())
    }

    /// Opens a stream and reads its `connected` event; returns the client and connection id.
    pub async fn connect(&self, query: &str) -> (SseClient, String) {
        let mut client = SseClient::connect(&self.url(&format!("/api/v1/sse/connect{query}")))
            .await
            .expect("stream opens");
        let connected = client.next_event(WAIT).await.expect("first event");
        assert_eq!(connected.event, "connected", "first event is `connected`");
        let id = connected.json()["connectionId"]
            .as_str()
            .expect("connectionId")
            .to_owned();
        (client, id)
    }

    pub async fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.post(self.url(path)).send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Subscribes and waits for the stream's `subscribed` confirmation.
    pub async fn subscribe(&self, client: &mut SseClient, id: &str, kind: &str, target: &str) {
        let (status, body) = self
            .post(&format!("/api/v1/sse/{id}/subscribe/{kind}/{target}"))
            .await;
        assert_eq!(status, 200, "subscribe answered {body}");
        let event = client
            .next_named("subscribed", WAIT)
            .await
            .expect("subscribed");
        assert_eq!(event.json()["channel"], format!("{kind}:{target}"));
    }

    /// `PUBSUB NUMSUB channel` on the test's Redis.
    pub fn numsub(&self, channel: &str) -> i64 {
        let out = self.redis.cli(&["PUBSUB", "NUMSUB", channel]);
        out.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(-1)
    }

    /// Waits until `numsub(channel) == expected`.
    pub async fn wait_numsub(&self, channel: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.numsub(channel);
            if now == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "PUBSUB NUMSUB {channel} stayed {now}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The value of one series on `/metrics` (0 when absent), e.g.
    /// `sse_events_dropped_total{reason="malformed"}`.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .unwrap_or_default();
        text.lines()
            .find_map(|line| {
                let (name, value) = line.rsplit_once(' ')?;
                (name == series).then(|| value.parse().ok()).flatten()
            })
            .unwrap_or(0.0)
    }

    /// Publishes with `redis-cli PUBLISH`, as a foreign publisher would.
    pub fn cli_publish(&self, channel: &str, payload: &str) -> String {
        self.redis.cli(&["PUBLISH", channel, payload])
    }
}

/// Publishes a `job_update` carrying `seq` on `channel`, with history (the contract's script).
pub async fn publish_seq(app: &TestApp, channel: &str, seq: u64) {
    let channel = progress_contract::Channel::parse(channel).unwrap();
    app.publisher()
        .publish_event(
            &channel,
            &serde_json::json!({"type": "job_update", "jobId": channel.id(), "seq": seq})
                .to_string(),
        )
        .await
        .unwrap();
}

/// Collects `n` events named `name`.
pub async fn collect(client: &mut SseClient, name: &str, n: usize) -> Vec<SseEvent> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        events.push(
            client
                .next_named(name, WAIT)
                .await
                .unwrap_or_else(|e| panic!("after {} of {n} `{name}` events: {e}", events.len())),
        );
    }
    events
}

impl TestApp {
    /// Publishes raw bytes through the test's own Redis client.
    pub async fn publish_raw(&self, channel: &str, payload: impl Into<String>) -> i64 {
        use fred::prelude::PubsubInterface;
        self.publisher_client
            .publish(channel, payload.into())
            .await
            .expect("PUBLISH")
    }

    /// Starts another gateway on the same Redis (another pod); returns its base URL.
    pub async fn second_gateway(&self) -> (String, CancellationToken) {
        let config = GatewayConfig::local(self.redis.url());
        let app = Application::build(config)
            .await
            .expect("second gateway builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        (base, shutdown)
    }

    /// Waits until stream `id`'s final position is written (its session says it closed).
    pub async fn wait_session_closed(&self, id: &str) {
        let key = format!("sse:sess:{{{id}}}");
        eventually("the stream's final position is written", || async {
            self.redis.cli(&["HEXISTS", &key, "closedAt"]).trim() == "1"
        })
        .await;
    }

    pub async fn ready_status(&self) -> u16 {
        self.http
            .get(format!("{}/readyz", self.admin))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

/// Polls `probe` until it returns true or `WAIT` passes.
pub async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !probe().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
