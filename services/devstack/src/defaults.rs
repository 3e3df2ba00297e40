//! Settings for a laptop rather than a cluster. The services' defaults wait for load
//! balancers before draining (`DRAIN_DELAY` 5 s, `DRAIN_WINDOW` 20 s); with no load balancer
//! that only makes Ctrl-C slow. Each value here applies only while its variable is unset, so
//! the production behaviour can still be tried locally by setting it.

use std::time::Duration;

use resume_worker::WorkerConfig;
use sse_gateway::GatewayConfig;

fn unset(name: &str) -> bool {
    std::env::var_os(name).is_none()
}

/// Short drain for the gateway: no delay, streams closed within half a second.
pub fn gateway(config: &mut GatewayConfig) {
    if unset("DRAIN_DELAY") {
        config.drain_delay = Duration::ZERO;
    }
    if unset("DRAIN_WINDOW") {
        config.drain_window = Duration::from_millis(500);
    }
    if unset("SHUTDOWN_TIMEOUT") {
        let needed = config.drain_delay + config.drain_window + Duration::from_secs(2);
        config.shutdown_timeout = needed.max(Duration::from_secs(5));
    }
}

/// Workers: the `n`-th (from 0) gets the admin port after the gateway's plus `n`, and a
/// readable id.
pub fn worker(config: &mut WorkerConfig, gateway: &GatewayConfig, n: u16) {
    config.redis.redis_url = gateway.redis.redis_url.clone();
    // ADMIN_ADDR names the gateway's admin port; workers take the next ones (or ephemeral
    // ports when it is 0).
    config.admin_addr = gateway.admin_addr;
    if gateway.admin_addr.port() != 0 {
        config
            .admin_addr
            .set_port(gateway.admin_addr.port() + 1 + n);
    }
    if config.worker_id.is_empty() {
        config.worker_id = format!("local-worker-{}", n + 1);
    }
    if unset("WORKER_SHUTDOWN_TIMEOUT") {
        config.shutdown_timeout = Duration::from_secs(10);
    }
}
