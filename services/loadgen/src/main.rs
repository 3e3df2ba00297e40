//! `loadgen`: see the crate documentation and docs/benchmarks.md.

use std::net::Ipv4Addr;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use loadgen::modes::{self, Harness};
use loadgen::procfs;
use loadgen::report::{self, RunInfo};
use loadgen::sources::Sources;
use loadgen::target::{self, Kind, Routes};

/// Open files one process may have here (a hard limit that cannot be raised).
const MAX_STREAMS: usize = 19_000;

/// Drives a real SSE server over loopback and prints what it cost.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Args)]
struct Common {
    /// The server under test.
    #[arg(long, value_enum, default_value = "gateway", global = true)]
    target: Kind,
    /// The server's base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8000", global = true)]
    url: String,
    /// The server's Redis (loopback only): where gateway events are published, and whose
    /// CPU and memory are counted.
    #[arg(long, default_value = "redis://127.0.0.1:6379", global = true)]
    redis_url: String,
    /// Nchan's subscriber location prefix.
    #[arg(long, default_value = "/sub/", global = true)]
    sub_prefix: String,
    /// Nchan's publisher location prefix.
    #[arg(long, default_value = "/pub/", global = true)]
    pub_prefix: String,
    /// The server's processes (repeatable); default: those listening on the URL's port.
    #[arg(long, global = true)]
    server_pid: Vec<u32>,
    /// Redis' process (repeatable); default: the one listening on the Redis URL's port.
    #[arg(long, global = true)]
    redis_pid: Vec<u32>,
    /// First client source address; sockets are spread over `--sources` consecutive ones.
    #[arg(long, default_value = "127.0.0.2", global = true)]
    source_first: Ipv4Addr,
    #[arg(long, default_value_t = 8, global = true)]
    sources: usize,
    /// Streams being opened at the same time.
    #[arg(long, default_value_t = 256, global = true)]
    connect_concurrency: usize,
    /// Keep-alive connections publishing to Nchan.
    #[arg(long, default_value_t = 16, global = true)]
    nchan_publishers: usize,
    /// Worker threads of the generator (it should cost far less than the server).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    /// A free-form label copied into the JSON line.
    #[arg(long, default_value = "", global = true)]
    label: String,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Hold C idle streams and report the server's memory per stream.
    Idle {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Job channels the streams subscribe to (default: one per stream).
        #[arg(long)]
        channels: Option<usize>,
        /// Seconds the streams are held before memory is read.
        #[arg(long, default_value_t = 5.0)]
        hold: f64,
    },
    /// C streams over K channels, E events at R per second: latency, loss, CPU per delivery.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        channels: usize,
        /// Events per second (0: as fast as publishing allows).
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Size of each published event in bytes.
        #[arg(long, default_value_t = 300)]
        size: usize,
        /// Publishes outstanding at once.
        #[arg(long, default_value_t = 64)]
        publish_in_flight: usize,
        /// Stop waiting for deliveries after this many seconds without one.
        #[arg(long, default_value_t = 5.0)]
        settle: f64,
    },
    /// Connection rate, then C streams reconnecting at once with Last-Event-ID.
    Connect {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        channels: usize,
        /// Streams reconnecting at the same time (default: all).
        #[arg(long)]
        storm_concurrency: Option<usize>,
        #[arg(long, default_value_t = 300)]
        size: usize,
        /// Longest wait for a phase to complete, in seconds.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// N subscribe requests at R per second, each to a job with E events in its history
    /// (gateway only): time until the stream has them, CPU per subscribe.
    Subscribe {
        /// Streams the subscriptions are spread over (at most 128 each).
        #[arg(long, default_value_t = 100)]
        streams: usize,
        #[arg(long, default_value_t = 10_000)]
        subscribes: usize,
        #[arg(long, default_value_t = 8)]
        events_per_job: u64,
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Keep-alive connections the subscribe requests are sent over.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Subscribe with `?replay=false` (done at `subscribed`).
        #[arg(long)]
        live_only: bool,
        #[arg(long, default_value_t = 300)]
        size: usize,
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
    },
    /// C streams over several gateways (`--url` and each `--also`), events flowing, every
    /// stream reconnecting as EventSource does when its gateway ends it (gateway only): when
    /// each came back, and what was lost or duplicated. Something else drains a gateway.
    Drain {
        /// Further gateways; streams are spread round robin over `--url` and these, and a
        /// reconnect goes to the next one.
        #[arg(long)]
        also: Vec<String>,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        channels: usize,
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Events per second.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        #[arg(long, default_value_t = 300)]
        size: usize,
        /// Seconds to wait after the last event for every stream to have it.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        /// Created once every stream is open.
        #[arg(long)]
        ready_file: Option<String>,
        /// Milliseconds from the ready file to the first event.
        #[arg(long, default_value_t = 0)]
        lead_ms: u64,
    },
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Idle { .. } => "idle",
            Mode::Fanout { .. } => "fanout",
            Mode::Connect { .. } => "connect",
            Mode::Subscribe { .. } => "subscribe",
            Mode::Drain { .. } => "drain",
        }
    }

    /// Refuses runs that could not finish in bounded time or would exceed the open-file limit.
    fn check(&self) -> anyhow::Result<()> {
        let clients = match self {
            Mode::Idle { clients, hold, .. } => {
                anyhow::ensure!((0.0..=3600.0).contains(hold), "--hold: at most 3600 s");
                *clients
            }
            Mode::Fanout {
                clients,
                rate,
                events,
                size,
                ..
            } => {
                anyhow::ensure!(*events <= 10_000_000, "--events: at most 10,000,000");
                anyhow::ensure!(*size <= 65_536, "--size: at most 64 KiB");
                anyhow::ensure!(
                    *rate == 0.0 || (*events as f64 / *rate) <= 600.0,
                    "--events / --rate: a run publishes for at most 600 s"
                );
                *clients
            }
            Mode::Connect {
                clients, timeout, ..
            } => {
                anyhow::ensure!((1.0..=600.0).contains(timeout), "--timeout: 1 to 600 s");
                *clients
            }
            Mode::Subscribe {
                streams,
                subscribes,
                rate,
                timeout,
                ..
            } => {
                anyhow::ensure!((1.0..=600.0).contains(timeout), "--timeout: 1 to 600 s");
                anyhow::ensure!(*subscribes <= 1_000_000, "--subscribes: at most 1,000,000");
                anyhow::ensure!(
                    *rate >= 1.0 && (*subscribes as f64 / *rate) <= 600.0,
                    "--subscribes / --rate: a run subscribes for at most 600 s"
                );
                *streams
            }
            Mode::Drain {
                clients,
                channels,
                events,
                rate,
                timeout,
                lead_ms,
                ..
            } => {
                anyhow::ensure!((1.0..=600.0).contains(timeout), "--timeout: 1 to 600 s");
                anyhow::ensure!(*lead_ms <= 600_000, "--lead-ms: at most 600,000");
                anyhow::ensure!(
                    *events >= *channels as u64,
                    "--events: at least one per channel"
                );
                anyhow::ensure!(
                    *rate >= 1.0 && (*events as f64 / *rate) <= 600.0,
                    "--events / --rate: a run publishes for at most 600 s"
                );
                *clients
            }
        };
        anyhow::ensure!(
            (1..=MAX_STREAMS).contains(&clients),
            "--clients: 1 to {MAX_STREAMS} per process (open-file limit); run several processes for more"
        );
        let limit = open_file_limit().unwrap_or(MAX_STREAMS as u64 + 1000);
        anyhow::ensure!(
            clients as u64 + 200 <= limit,
            "--clients {clients} needs more open files than this process may have ({limit})"
        );
        Ok(())
    }
}

/// The soft limit of open files of this process.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn pids_or_listeners(given: &[u32], port: u16, what: &str) -> anyhow::Result<Vec<u32>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    procfs::listeners(port).with_context(|| format!("finding the {what} process (pass its pid)"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.mode.check()?;
    let runtime = if cli.common.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.common.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let common = cli.common;
    let server = target::loopback(&common.url, "http", 80)?;
    let redis = target::loopback(&common.redis_url, "redis", 6379)?;
    let sources = Sources::new(common.source_first, common.sources)?;
    let server_pids = pids_or_listeners(&common.server_pid, server.addr.port(), "server")?;
    let redis_pids = pids_or_listeners(&common.redis_pid, redis.addr.port(), "Redis")?;
    // Unique even for generators started in the same microsecond (bench/scale.sh starts
    // several at once): the start time, the process id and a random part.
    let run_id = format!(
        "{:x}-{:x}-{:08x}",
        loadgen::payload::now_micros(),
        std::process::id(),
        rand::random::<u32>()
    );
    let harness = Harness {
        routes: Routes {
            kind: common.target,
            server,
            sub_prefix: common.sub_prefix,
            pub_prefix: common.pub_prefix,
        },
        sources: Arc::new(sources),
        server_pids: server_pids.clone(),
        redis_pids: redis_pids.clone(),
        redis_url: common.redis_url,
        run_id: run_id.clone(),
        connect_concurrency: common.connect_concurrency,
        nchan_publishers: common.nchan_publishers,
    };
    let info = RunInfo {
        mode: cli.mode.name(),
        target: common.target.as_str(),
        label: common.label,
        run_id,
        server_pids,
        redis_pids,
    };
    match cli.mode {
        Mode::Idle {
            clients,
            channels,
            hold,
        } => {
            let params = modes::idle::Params {
                clients,
                channels: channels.unwrap_or(clients),
                hold_secs: hold,
            };
            let report = modes::idle::run(&harness, params).await?;
            report::emit(&info, &report.human(), &report)
        }
        Mode::Fanout {
            clients,
            channels,
            rate,
            events,
            size,
            publish_in_flight,
            settle,
        } => {
            let params = modes::fanout::Params {
                clients,
                channels,
                events,
                rate,
                size,
                publish_in_flight,
                settle_secs: settle,
            };
            let report = modes::fanout::run(&harness, params).await?;
            report::emit(&info, &report.human(), &report)
        }
        Mode::Connect {
            clients,
            channels,
            storm_concurrency,
            size,
            timeout,
        } => {
            let params = modes::connect::Params {
                clients,
                channels,
                storm_concurrency: storm_concurrency.unwrap_or(clients),
                size,
                timeout_secs: timeout,
            };
            let report = modes::connect::run(&harness, params).await?;
            report::emit(&info, &report.human(), &report)
        }
        Mode::Subscribe {
            streams,
            subscribes,
            events_per_job,
            rate,
            connections,
            live_only,
            size,
            timeout,
        } => {
            let params = modes::subscribe::Params {
                streams,
                subscribes,
                events_per_job,
                rate,
                connections,
                live_only,
                size,
                timeout_secs: timeout,
            };
            let report = modes::subscribe::run(&harness, params).await?;
            report::emit(&info, &report.human(), &report)
        }
        Mode::Drain {
            also,
            clients,
            channels,
            events,
            rate,
            size,
            timeout,
            ready_file,
            lead_ms,
        } => {
            anyhow::ensure!(common.target == Kind::Gateway, "drain: gateway only");
            let mut gateways = vec![harness.routes.server.clone()];
            for url in &also {
                gateways.push(target::loopback(url, "http", 80)?);
            }
            let params = modes::drain::Params {
                clients,
                channels,
                events,
                rate,
                size,
                timeout_secs: timeout,
                ready_file,
                lead_ms,
            };
            let report = modes::drain::run(&harness, gateways, params).await?;
            report::emit(&info, &report.human(), &report)
        }
    }
}
