//! `cargo run -p devstack`: Redis (reused from `REDIS_URL` or started), the gateway and two
//! workers in one process, configured from the same environment variables as the real
//! services. Ctrl-C stops everything cleanly; a second Ctrl-C stops at once.

mod banner;
mod defaults;
mod install;
mod redis;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use resume_worker::WorkerConfig;
use sse_gateway::GatewayConfig;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const WORKERS: u16 = 2;
const PORTS_HINT: &str = "starting the stack (if a port is taken, e.g. by another devstack, choose others: \
     HTTP_ADDR=127.0.0.1:8080 ADMIN_ADDR=127.0.0.1:9100 cargo run -p devstack; workers take the two \
     ports after ADMIN_ADDR)";

fn main() -> anyhow::Result<()> {
    // The workers parse documents in children of this same binary.
    resume_worker::sandbox::child::serve_if_requested();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let mut gateway = GatewayConfig::parse_from(["sse-gateway"]);
    service_runtime::telemetry::init_logging(gateway.log_format, "info");
    defaults::gateway(&mut gateway);
    let redis = Arc::new(redis::find_or_start(&gateway.redis.redis_url)?);
    gateway.redis.redis_url = redis.url.clone();

    let shutdown = CancellationToken::new();
    tokio::spawn(service_runtime::shutdown::cancel_on_signal(
        shutdown.clone(),
    ));
    tokio::spawn(stop_now_on_second_signal(shutdown.clone(), redis.clone()));

    // The gateway first: a port already taken fails before anything runs.
    let app = sse_gateway::Application::build(gateway.clone())
        .await
        .context(PORTS_HINT)?;
    let mut tasks = JoinSet::new();
    let mut worker_admin = Vec::new();
    for n in 0..WORKERS {
        let mut config = WorkerConfig::parse_from(["resume-worker"]);
        defaults::worker(&mut config, &gateway, n);
        let worker = resume_worker::Application::build(config)
            .await
            .context(PORTS_HINT)?;
        worker_admin.push(worker.admin_port());
        tasks.spawn(worker.run_until_stopped(shutdown.clone()));
    }
    banner::print(&banner::Banner {
        http: gateway.http_addr,
        http_port: app.port(),
        admin_port: app.admin_port(),
        worker_admin_ports: worker_admin,
        redis: service_runtime::redis::redact(&redis.url).to_string(),
        redis_started_here: redis.started_here(),
    });
    tasks.spawn(app.run_until_stopped(shutdown.clone()));

    // Runs until Ctrl-C/SIGTERM; if a service stops by itself (an error), the rest stop too.
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(error) = outcome {
            tracing::error!(error = %format!("{error:#}"), "a service stopped with an error; stopping the rest");
            if result.is_ok() {
                result = Err(error);
            }
        }
        shutdown.cancel();
    }
    redis.stop();
    tracing::info!("everything stopped");
    result
}

/// After the first signal the services drain; a second one stops everything at once.
async fn stop_now_on_second_signal(shutdown: CancellationToken, redis: Arc<redis::LocalRedis>) {
    shutdown.cancelled().await;
    if tokio::signal::ctrl_c().await.is_ok() {
        tracing::warn!("second Ctrl-C: stopping at once");
        redis.stop();
        std::process::exit(130);
    }
}
