use clap::Parser;
use resume_worker::{Application, WorkerConfig};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = WorkerConfig::parse();
    service_runtime::telemetry::init_logging(config.log_format, "info");
    let application = Application::build(config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(service_runtime::shutdown::cancel_on_signal(
        shutdown.clone(),
    ));
    application.run_until_stopped(shutdown).await
}
