//! The few lines a developer needs once everything is up: where the demo page, the API, the
//! metrics and Redis are. Printed on stdout (logs may be JSON); the first line is stable, so
//! scripts can wait for `ready: open http://…/`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

pub struct Banner {
    /// `HTTP_ADDR` as configured (its host is shown; its port may be 0).
    pub http: SocketAddr,
    pub http_port: u16,
    pub admin_port: u16,
    pub worker_admin_ports: Vec<u16>,
    /// Redacted.
    pub redis: String,
    pub redis_started_here: bool,
}

/// `localhost` for a wildcard or loopback address, the address itself otherwise.
fn host(ip: IpAddr) -> String {
    match ip {
        ip if ip.is_unspecified() || ip.is_loopback() => "localhost".into(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    }
}

impl Banner {
    pub fn text(&self) -> String {
        let host = host(self.http.ip());
        let base = format!("http://{host}:{}", self.http_port);
        let workers: Vec<String> = self
            .worker_admin_ports
            .iter()
            .map(|p| format!(":{p}"))
            .collect();
        let redis_note = if self.redis_started_here {
            "started for this session, stopped on exit"
        } else {
            "from REDIS_URL"
        };
        format!(
            "ready: open {base}/ (demo page)\n\
             \x20 API       {base}/api/v1 (docs/api.md)\n\
             \x20 stream    curl -N '{base}/api/v1/sse/connect?queues=resume-analysis'\n\
             \x20 metrics   http://{host}:{}/metrics (gateway), workers on {}\n\
             \x20 redis     {} ({redis_note})\n\
             \x20 {} workers running; Ctrl-C stops everything\n",
            self.admin_port,
            workers.join(" and "),
            self.redis,
            self.worker_admin_ports.len(),
        )
    }
}

#[allow(clippy::print_stdout)]
pub fn print(banner: &Banner) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.text().as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_shown_as_localhost() {
        let banner = Banner {
            http: "0.0.0.0:8000".parse().unwrap(),
            http_port: 8000,
            admin_port: 9000,
            worker_admin_ports: vec![9001, 9002],
            redis: "redis://127.0.0.1:6379".into(),
            redis_started_here: false,
        };
        let text = banner.text();
        assert!(text.starts_with("ready: open http://localhost:8000/ (demo page)\n"));
        assert!(
            text.contains("http://localhost:9000/metrics (gateway), workers on :9001 and :9002")
        );
        assert!(text.contains("redis://127.0.0.1:6379 (from REDIS_URL)"));
    }

    #[test]
    fn a_specific_address_is_shown_as_it_is() {
        let banner = Banner {
            http: "192.0.2.7:0".parse().unwrap(),
            http_port: 41234,
            admin_port: 41235,
            worker_admin_ports: vec![],
            redis: "redis://127.0.0.1:1".into(),
            redis_started_here: true,
        };
        assert!(
            banner
                .text()
                .starts_with("ready: open http://192.0.2.7:41234/ ")
        );
        assert!(banner.text().contains("started for this session"));
    }
}
