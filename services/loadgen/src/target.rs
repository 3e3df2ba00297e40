//! What is measured and where it listens. Only loopback addresses are accepted: the
//! generator opens tens of thousands of sockets and must never be pointed at another machine.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Our `sse-gateway`: streams at `/api/v1/sse/connect?jobs=…`, events published through
    /// the history script on its Redis.
    Gateway,
    /// Nchan: EventSource subscribers at `<sub-prefix><channel>`, events published by HTTP
    /// POST to `<pub-prefix><channel>`.
    Nchan,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gateway => "gateway",
            Kind::Nchan => "nchan",
        }
    }
}

/// Why a target is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("{url}: not a URL of the form {scheme}://host[:port][/path]")]
    Malformed { url: String, scheme: &'static str },
    #[error("{url}: cannot resolve {host}")]
    Unresolved { url: String, host: String },
    #[error(
        "refusing {url}: {addr} is not a loopback address; loadgen only drives servers on this machine (127.0.0.0/8 or ::1)"
    )]
    NotLoopback { url: String, addr: IpAddr },
}

/// A loopback address to connect to, with the `Host` header to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub host: String,
    /// The URL's path, without a trailing slash ("" for none).
    pub path: String,
}

/// Parses `scheme://host[:port][/path]` and checks that every address the host resolves to
/// is a loopback address.
pub fn loopback(
    url: &str,
    scheme: &'static str,
    default_port: u16,
) -> Result<Endpoint, TargetError> {
    let malformed = || TargetError::Malformed {
        url: url.to_owned(),
        scheme,
    };
    let rest = url
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
        .ok_or_else(malformed)?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    // Credentials (redis://:password@host) are not part of the address.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority).ok_or_else(malformed)?;
    let port = match port {
        Some(port) => port.parse::<u16>().map_err(|_| malformed())?,
        None => default_port,
    };
    if host.is_empty() {
        return Err(malformed());
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map_err(|_| TargetError::Unresolved {
                url: url.to_owned(),
                host: host.to_owned(),
            })?
            .collect(),
    };
    if let Some(outside) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(TargetError::NotLoopback {
            url: url.to_owned(),
            addr: outside.ip(),
        });
    }
    // Prefer IPv4: source addresses are spread over 127.0.0.0/8.
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| TargetError::Unresolved {
            url: url.to_owned(),
            host: host.to_owned(),
        })?;
    Ok(Endpoint {
        addr,
        host: authority.to_owned(),
        path: path.trim_end_matches('/').to_owned(),
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((authority, None)),
    }
}

/// Where streams are opened and events published for one target.
#[derive(Clone, Debug)]
pub struct Routes {
    pub kind: Kind,
    pub server: Endpoint,
    /// Nchan: subscriber location prefix, e.g. `/sub/`.
    pub sub_prefix: String,
    /// Nchan: publisher location prefix, e.g. `/pub/`.
    pub pub_prefix: String,
}

impl Routes {
    /// The request path of a stream subscribed to `channel` (a job id).
    pub fn stream_path(&self, channel: &str) -> String {
        match self.kind {
            Kind::Gateway => format!("{}/api/v1/sse/connect?jobs={channel}", self.server.path),
            Kind::Nchan => format!("{}{}{channel}", self.server.path, self.sub_prefix),
        }
    }

    /// The request path that publishes on `channel` (Nchan).
    pub fn publish_path(&self, channel: &str) -> String {
        format!("{}{}{channel}", self.server.path, self.pub_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_only() {
        let endpoint = loopback("http://127.0.0.1:8000", "http", 80).unwrap();
        assert_eq!(endpoint.addr, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(endpoint.host, "127.0.0.1:8000");
        let endpoint = loopback("http://127.0.0.5/base/", "http", 80).unwrap();
        assert_eq!(endpoint.addr.port(), 80);
        assert_eq!(endpoint.path, "/base");
        assert!(
            loopback("http://[::1]:9", "http", 80)
                .unwrap()
                .addr
                .is_ipv6()
        );
        assert!(
            loopback("http://localhost:9", "http", 80)
                .unwrap()
                .addr
                .ip()
                .is_loopback()
        );
        assert_eq!(
            loopback("redis://:secret@127.0.0.1:6390/0", "redis", 6379)
                .unwrap()
                .addr,
            "127.0.0.1:6390".parse().unwrap()
        );

        let refused = loopback("http://10.0.0.7:8000", "http", 80).unwrap_err();
        assert_eq!(
            refused,
            TargetError::NotLoopback {
                url: "http://10.0.0.7:8000".into(),
                addr: "10.0.0.7".parse().unwrap()
            }
        );
        assert!(refused.to_string().contains("not a loopback address"));
        assert!(matches!(
            loopback("http://[2001:db8::1]:80", "http", 80),
            Err(TargetError::NotLoopback { .. })
        ));
        assert!(matches!(
            loopback("http://0.0.0.0:80", "http", 80),
            Err(TargetError::NotLoopback { .. })
        ));
        assert!(matches!(
            loopback("https://127.0.0.1", "http", 80),
            Err(TargetError::Malformed { .. })
        ));
        assert!(matches!(
            loopback("http://127.0.0.1:99999", "http", 80),
            Err(TargetError::Malformed { .. })
        ));
    }

    #[test]
    fn stream_and_publish_paths() {
        let server = loopback("http://127.0.0.1:1", "http", 80).unwrap();
        let routes = Routes {
            kind: Kind::Gateway,
            server,
            sub_prefix: "/sub/".into(),
            pub_prefix: "/pub/".into(),
        };
        assert_eq!(routes.stream_path("b-1"), "/api/v1/sse/connect?jobs=b-1");
        let routes = Routes {
            kind: Kind::Nchan,
            ..routes
        };
        assert_eq!(routes.stream_path("b-1"), "/sub/b-1");
        assert_eq!(routes.publish_path("b-1"), "/pub/b-1");
    }
}
