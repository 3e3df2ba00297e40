//! Three gateway processes, two workers and a Redis behind a readiness-aware round-robin
//! balancer; hundreds of EventSource-like clients subscribe through it (so most subscribe
//! requests land on a pod that does not hold the stream) while sequenced events with history
//! are published at a steady rate, through (a) a rolling SIGTERM restart of every gateway,
//! (b) a SIGKILL of one gateway, (c) a Redis restart.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use progress_contract::{Channel, Publisher};
use service_runtime::redis::RedisOptions;
use test_support::proxy::LoadBalancer;
use test_support::resuming::ResumingClient;
use test_support::{RedisServer, free_port};
use tokio_util::sync::CancellationToken;

const CLIENTS: usize = 500;
const CHANNELS: usize = 10;
/// Events per second per channel.
const RATE: u64 = 10;

struct Gateway {
    name: String,
    http: u16,
    admin: u16,
    child: Option<Child>,
    /// The process's output, every run of it appended.
    log: std::path::PathBuf,
}

/// How waiting for a gateway to be ready ended.
enum Readiness {
    Ready,
    Exited(ExitStatus),
    TimedOut,
}

impl Gateway {
    /// Starts a gateway on free ports and waits until it is ready. A port can be taken by
    /// another socket between being picked and being bound: a gateway that exits at start is
    /// started again on other ports.
    async fn start_ready(name: &str, redis: &str) -> Self {
        let log =
            std::env::temp_dir().join(format!("cluster-test-{}-{name}.log", std::process::id()));
        for _ in 0..3 {
            let mut gateway = Self {
                name: name.into(),
                http: free_port(),
                admin: free_port(),
                child: None,
                log: log.clone(),
            };
            gateway.spawn(redis);
            match gateway.readiness().await {
                Readiness::Ready => return gateway,
                Readiness::Exited(status) => println!(
                    "{name} exited at start ({status}); again on other ports. It said: {}",
                    tail(&gateway.log)
                ),
                Readiness::TimedOut => gateway.never_ready(),
            }
        }
        panic!("{name} could not start: {}", tail(&log));
    }

    async fn readiness(&mut self) -> Readiness {
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Readiness::Exited(status);
            }
            if http
                .get(format!("http://127.0.0.1:{}/readyz", self.admin))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Readiness::Ready;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Readiness::TimedOut
    }

    /// Waits until the gateway is ready; fails the test with its log otherwise.
    async fn wait_ready(&mut self) {
        match self.readiness().await {
            Readiness::Ready => {}
            Readiness::Exited(status) => {
                panic!("{} exited ({status}): {}", self.name, tail(&self.log))
            }
            Readiness::TimedOut => self.never_ready(),
        }
    }

    fn never_ready(&self) -> ! {
        panic!(
            "{} on admin port {} never became ready: {}",
            self.name,
            self.admin,
            tail(&self.log)
        )
    }

    fn spawn(&mut self, redis: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the gateway's log");
        let child = Command::new(env!("CARGO_BIN_EXE_sse-gateway"))
            .env("REDIS_URL", redis)
            .env("HTTP_ADDR", format!("127.0.0.1:{}", self.http))
            .env("ADMIN_ADDR", format!("127.0.0.1:{}", self.admin))
            .env("POD_NAME", &self.name)
            .env("DRAIN_DELAY", "300ms")
            .env("DRAIN_WINDOW", "1500ms")
            .env("SHUTDOWN_TIMEOUT", "10s")
            .env("SSE_RETRY", "250ms")
            .env("CURSOR_FLUSH_INTERVAL", "200ms")
            .env("CLIENT_BUFFER_EVENTS", "1024")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting sse-gateway");
        self.child = Some(child);
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    fn wait(&mut self) -> ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Kept when the test fails, for a look at what the gateway said.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// The end of a log, for a failure message.
fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn start_workers(redis: &str) -> Vec<Child> {
    let binary =
        std::path::Path::new(env!("CARGO_BIN_EXE_sse-gateway")).with_file_name("resume-worker");
    if !binary.exists() {
        println!("resume-worker binary not built; running without workers");
        return Vec::new();
    }
    (0..2)
        .map(|i| {
            Command::new(&binary)
                .env("REDIS_URL", redis)
                .env("ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
                .env("WORKER_ID", format!("cluster-worker-{i}"))
                .env("WORKER_HEARTBEAT", "1s")
                .env("LOG_FORMAT", "json")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting resume-worker")
        })
        .collect()
}

/// Publishes `seq` 1, 2, … on every channel at `RATE`, retrying each event until Redis takes
/// it (so an outage delays events but never skips one).
fn spawn_publisher(
    redis: String,
    published: Arc<AtomicU64>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = RedisOptions::new(redis).connect_client().await.unwrap();
        let publisher = Publisher::new(client);
        let channels: Vec<Channel> = (0..CHANNELS)
            .map(|c| Channel::job(&format!("c{c}")).unwrap())
            .collect();
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
        let mut seq = 0u64;
        while !stop.is_cancelled() {
            tick.tick().await;
            seq += 1;
            for channel in &channels {
                let payload = format!(
                    r#"{{"type":"job_update","jobId":"{}","seq":{seq}}}"#,
                    channel.id()
                );
                while publisher.publish_event(channel, &payload).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            published.store(seq, Ordering::SeqCst);
        }
    })
}

#[derive(Default, Debug)]
struct Tally {
    lost: usize,
    duplicates: usize,
    out_of_order: usize,
    reconnects: usize,
    resyncs: usize,
}

/// Checks every client against `1..=last`; duplicates are allowed only for seqs in `allowed`.
fn tally(
    clients: &[ResumingClient],
    last: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> (Tally, usize) {
    let mut tally = Tally::default();
    let mut disallowed = 0;
    for client in clients {
        let record = client.snapshot();
        tally.reconnects += record.reconnects;
        tally.resyncs += record.resyncs;
        let mut counts: HashMap<u64, usize> = HashMap::new();
        let mut highest = 0;
        for seq in &record.seqs {
            let count = counts.entry(*seq).or_default();
            *count += 1;
            if *count > 1 {
                tally.duplicates += 1;
                if !allowed.contains(seq) {
                    disallowed += 1;
                }
            } else if *seq < highest {
                tally.out_of_order += 1;
            }
            highest = highest.max(*seq);
        }
        tally.lost += (1..=last).filter(|seq| !counts.contains_key(seq)).count();
    }
    (tally, disallowed)
}

/// Largest number of reconnects that started within any 100 ms.
fn peak_reconnects(clients: &[ResumingClient], since: Instant) -> usize {
    let mut buckets: HashMap<u128, usize> = HashMap::new();
    for client in clients {
        for time in client.snapshot().reconnect_times {
            if time >= since {
                *buckets
                    .entry(time.duration_since(since).as_millis() / 100)
                    .or_default() += 1;
            }
        }
    }
    buckets.values().copied().max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_lose_nothing_through_restarts_and_crashes_and_recover_after_a_redis_restart()
 {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let mut gateways = Vec::new();
    for i in 0..3 {
        gateways.push(Gateway::start_ready(&format!("gw-{i}"), &url).await);
    }
    let mut workers = start_workers(&url);
    let balancer = LoadBalancer::start(
        gateways
            .iter()
            .map(|g| {
                (
                    ([127, 0, 0, 1], g.http).into(),
                    ([127, 0, 0, 1], g.admin).into(),
                )
            })
            .collect(),
    )
    .await;
    let base = format!("http://{}", balancer.addr);

    let stop = CancellationToken::new();
    let clients: Vec<ResumingClient> = (0..CLIENTS)
        .map(|i| ResumingClient::spawn(base.clone(), format!("c{}", i % CHANNELS), stop.clone()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while clients.iter().any(|c| !c.snapshot().subscribed) {
        assert!(Instant::now() < deadline, "not every client got subscribed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owners: HashMap<String, usize> = {
        let http = reqwest::Client::new();
        let stats: serde_json::Value = http
            .get(format!("{base}/api/v1/sse/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["pod"].as_str().unwrap().to_owned(),
                    p["totalConnections"].as_u64().unwrap() as usize,
                )
            })
            .collect()
    };
    println!("streams per pod after subscribing through the balancer: {owners:?}");

    let published = Arc::new(AtomicU64::new(0));
    let publishing = CancellationToken::new();
    let publisher = spawn_publisher(url.clone(), published.clone(), publishing.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;

    // (a) Rolling restart with SIGTERM.
    let rolling_started = Instant::now();
    for gateway in gateways.iter_mut() {
        gateway.signal("-TERM");
        let status = gateway.wait();
        assert!(status.success(), "{} exited with {status}", gateway.name);
        gateway.spawn(&url);
        gateway.wait_ready().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let peak = peak_reconnects(&clients, rolling_started);
    let after_rolling = published.load(Ordering::SeqCst);
    // No duplicate is allowed: an empty range of seqs.
    #[allow(clippy::reversed_empty_ranges)]
    let (a, disallowed) = settle(&clients, after_rolling, 1..=0).await;
    println!("(a) rolling SIGTERM restart: {a:?}; peak reconnects in 100 ms: {peak}");
    assert_eq!(a.lost, 0, "no event lost in a rolling restart");
    assert_eq!(disallowed, 0, "no duplicate in a rolling restart");
    assert_eq!(a.out_of_order, 0);
    assert!(
        peak < CLIENTS / 3,
        "reconnects are spread over the drain window (peak {peak} per 100 ms)"
    );

    // (b) One gateway killed with SIGKILL.
    let killed_at = published.load(Ordering::SeqCst);
    gateways[1].signal("-KILL");
    let _ = gateways[1].wait();
    tokio::time::sleep(Duration::from_secs(2)).await;
    gateways[1].spawn(&url);
    gateways[1].wait_ready().await;
    let after_kill = published.load(Ordering::SeqCst);
    let (b, disallowed) = settle(&clients, after_kill, window_after(killed_at)).await;
    println!("(b) SIGKILL of one gateway: {b:?}");
    assert_eq!(b.lost, 0, "no event lost when a gateway crashes");
    assert_eq!(disallowed, 0, "duplicates only around the crash");
    // Each client's stream has one channel, so its Last-Event-ID names its exact position
    // in that channel's history: nothing flushed or not, nothing is sent twice.
    assert_eq!(b.duplicates, 0, "no duplicate after a crash: {b:?}");

    // (c) Redis killed and restarted empty. Events in flight when it dies may be lost with
    // its data; the system must recover by itself and deliver everything published after.
    let restart_at = published.load(Ordering::SeqCst);
    redis.restart();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recovered_at = published.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    publishing.cancel();
    publisher.await.unwrap();
    let last = published.load(Ordering::SeqCst);
    let (c, _) = settle_after(&clients, recovered_at, last).await;
    let (whole, _) = tally(&clients, last, 0..=last);
    println!(
        "(c) Redis restart at event {restart_at}, recovered by {recovered_at}: after recovery {c:?}; \
         over the whole run {} events missed by streams (lost with Redis' data), {} resyncs",
        whole.lost, whole.resyncs
    );
    assert_eq!(
        c.lost, 0,
        "every event published after recovery reaches every stream"
    );
    // Events lost with Redis' data are never lost silently: those streams got `resync`.
    let silent: usize = clients
        .iter()
        .map(|client| client.snapshot())
        .filter(|r| r.resyncs == 0 && (1..=last).any(|seq| !r.seqs.contains(&seq)))
        .count();
    println!("(c) streams that missed events without a resync: {silent}");
    assert_eq!(silent, 0, "a stream that misses events is told to resync");
    stop.cancel();
    for worker in &mut workers {
        let _ = worker.kill();
        let _ = worker.wait();
    }
}

/// Like [`settle`], for the events after `from` only.
async fn settle_after(clients: &[ResumingClient], from: u64, last: u64) -> (Tally, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut tally = Tally::default();
        for client in clients {
            let seqs = client.snapshot().seqs;
            tally.lost += (from + 1..=last).filter(|s| !seqs.contains(s)).count();
        }
        if tally.lost == 0 || Instant::now() > deadline {
            return (tally, 0);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to 20 s) until every client has every event up to `last`, then tallies.
async fn settle(
    clients: &[ResumingClient],
    last: u64,
    allowed: std::ops::RangeInclusive<u64>,
) -> (Tally, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (tally, disallowed) = tally(clients, last, allowed.clone());
        if tally.lost == 0 || Instant::now() > deadline {
            return (tally, disallowed);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Events a crash may deliver twice: those sent since the last position flush (every 200 ms;
/// up to 3 s allowed for a loaded machine), and those in flight while clients reconnect.
fn window_after(killed_at: u64) -> std::ops::RangeInclusive<u64> {
    killed_at.saturating_sub(3 * RATE)..=killed_at + RATE
}
