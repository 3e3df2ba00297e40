use std::time::Duration;

use clap::Parser;
use sse_gateway::{Application, GatewayConfig};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = GatewayConfig::parse();
    let telemetry = service_runtime::telemetry::init("sse-gateway", config.log_format, "info");
    sse_gateway::memory::use_small_pages();
    let shutdown = CancellationToken::new();
    tokio::spawn(service_runtime::shutdown::cancel_on_signal(
        shutdown.clone(),
    ));
    let result = match Application::build(config).await {
        Ok(application) => application.run_until_stopped(shutdown).await,
        Err(error) => Err(error),
    };
    telemetry.shutdown(Duration::from_secs(3)).await;
    result
}
