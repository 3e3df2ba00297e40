//! `cargo run -p devstack`: Redis (reused from `REDIS_URL` or started), the gateway and two
//! workers in one process, configured from the same environment variables as the real
//! services. Ctrl-C stops everything cleanly.

mod redis;

use clap::Parser;
use resume_worker::WorkerConfig;
use sse_gateway::GatewayConfig;
use tokio_util::sync::CancellationToken;

const WORKERS: u16 = 2;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut gateway = GatewayConfig::parse_from(["sse-gateway"]);
    service_runtime::telemetry::init_logging(gateway.log_format, "info");
    let redis = redis::find_or_start(&gateway.redis.redis_url)?;
    gateway.redis.redis_url = redis.url.clone();

    let shutdown = CancellationToken::new();
    tokio::spawn(service_runtime::shutdown::cancel_on_signal(
        shutdown.clone(),
    ));

    let mut tasks = Vec::new();
    for n in 0..WORKERS {
        let mut config = WorkerConfig::parse_from(["resume-worker"]);
        config.redis.redis_url = redis.url.clone();
        // ADMIN_ADDR names the gateway's admin port; workers take the next ones.
        config.admin_addr = gateway.admin_addr;
        config
            .admin_addr
            .set_port(gateway.admin_addr.port() + 1 + n);
        if config.worker_id.is_empty() {
            config.worker_id = format!("local-worker-{}", n + 1);
        }
        let worker = resume_worker::Application::build(config).await?;
        tasks.push(tokio::spawn(worker.run_until_stopped(shutdown.clone())));
    }
    let app = sse_gateway::Application::build(gateway).await?;
    let port = app.port();
    tasks.push(tokio::spawn(app.run_until_stopped(shutdown.clone())));
    tracing::info!(
        "ready: open http://localhost:{port}/ (demo page; API under /api/v1) with {WORKERS} workers; Ctrl-C stops everything"
    );
    for task in tasks {
        task.await??;
    }
    drop(redis);
    Ok(())
}
