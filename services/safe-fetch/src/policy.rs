//! The fetch policy.

use std::net::IpAddr;
use std::time::Duration;

/// What a [`crate::SafeFetcher`] may fetch.
#[derive(Clone, Debug)]
pub struct FetchPolicy {
    /// Allowed URL schemes (default `https`, `http`).
    pub allowed_schemes: Vec<String>,
    /// Hosts (names or IP literals, case-insensitive) exempt from the address check, for tests
    /// and internal file servers.
    pub allow_hosts: Vec<String>,
    /// When true, only `only_hosts` may be fetched at all.
    pub host_allowlist_only: bool,
    pub only_hosts: Vec<String>,
    /// Largest body accepted (default 10 MiB).
    pub max_bytes: u64,
    /// Time limit of the whole fetch, redirects included (default 10 s).
    pub timeout: Duration,
    /// Time limit of each TCP connect (default 3 s).
    pub connect_timeout: Duration,
    /// Redirects followed (default 3).
    pub max_redirects: usize,
    pub user_agent: String,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["https".into(), "http".into()],
            allow_hosts: Vec::new(),
            host_allowlist_only: false,
            only_hosts: Vec::new(),
            max_bytes: 10 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_redirects: 3,
            user_agent: concat!("resume-worker/", env!("CARGO_PKG_VERSION")).into(),
        }
    }
}

/// Host names compared the way URLs compare them: brackets and a trailing dot dropped,
/// lower case, IP literals in their canonical form (`0:0::1` and `[::1]` are both `::1`).
pub(crate) fn normalise_host(host: &str) -> String {
    let bare = host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare.to_ascii_lowercase(),
    }
}

impl FetchPolicy {
    pub(crate) fn is_allow_listed(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.allow_hosts.iter().any(|h| normalise_host(h) == host)
    }

    pub(crate) fn is_permitted_host(&self, host: &str) -> bool {
        if !self.host_allowlist_only {
            return true;
        }
        let host = normalise_host(host);
        self.only_hosts.iter().any(|h| normalise_host(h) == host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lists_match_the_way_urls_do() {
        let policy = FetchPolicy {
            allow_hosts: vec![
                "Files.Example.COM".into(),
                "0:0::1".into(),
                "127.0.0.2".into(),
            ],
            host_allowlist_only: true,
            only_hosts: vec!["cdn.example.com.".into()],
            ..FetchPolicy::default()
        };
        assert!(policy.is_allow_listed("files.example.com"));
        assert!(policy.is_allow_listed("files.example.com."));
        assert!(policy.is_allow_listed("[::1]"));
        assert!(policy.is_allow_listed("127.0.0.2"));
        assert!(!policy.is_allow_listed("127.0.0.1"));
        assert!(!policy.is_allow_listed("evil-files.example.com"));
        assert!(policy.is_permitted_host("CDN.example.com"));
        assert!(!policy.is_permitted_host("files.example.com"));
        assert!(FetchPolicy::default().is_permitted_host("anything.example"));
    }
}
