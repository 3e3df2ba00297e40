//! `cargo run -p devstack`: Redis (reused or started), the gateway and two workers in one
//! process; Ctrl-C stops everything cleanly.

mod redis;

use clap::Parser;
use sse_gateway::{Application, GatewayConfig};
use tokio_util::sync::CancellationToken;

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
    let app = Application::build(gateway).await?;
    let port = app.port();
    let gateway_task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    tracing::info!("ready: open http://localhost:{port}/ (Ctrl-C stops everything)");
    gateway_task.await??;
    drop(redis);
    Ok(())
}
