use std::time::Duration;

use clap::Parser;
use resume_worker::{Application, WorkerConfig};
use tokio_util::sync::CancellationToken;

fn main() -> anyhow::Result<()> {
    // A document to parse under limits: this process is a parse child, not a worker.
    resume_worker::sandbox::child::serve_if_requested();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let config = WorkerConfig::parse();
    let telemetry = service_runtime::telemetry::init("resume-worker", config.log_format, "info");
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
