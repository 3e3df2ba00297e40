//! A DNS resolver that refuses a name when any of its addresses is off limits. Checking
//! every answer (not just the first) defeats DNS rebinding to a private address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::is_forbidden_ip;
use crate::policy::FetchPolicy;

/// Carried inside reqwest's connect error so the fetcher can report it precisely.
#[derive(Debug)]
pub(crate) struct ForbiddenResolution {
    pub host: String,
    pub ip: IpAddr,
}

impl fmt::Display for ForbiddenResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves to forbidden address {}", self.host, self.ip)
    }
}

impl std::error::Error for ForbiddenResolution {}

pub(crate) struct GuardedResolver {
    pub policy: Arc<FetchPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_answers(&policy, &host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Refuses the whole answer when any address in it is off limits, unless the host is
/// allow-listed: a name that mixes a public and a private address could otherwise be
/// connected to the private one.
pub(crate) fn check_answers(
    policy: &FetchPolicy,
    host: &str,
    addrs: &[SocketAddr],
) -> Result<(), ForbiddenResolution> {
    if policy.is_allow_listed(host) {
        return Ok(());
    }
    match addrs
        .iter()
        .map(SocketAddr::ip)
        .find(|ip| is_forbidden_ip(*ip))
    {
        Some(ip) => {
            tracing::warn!(%host, %ip, "refusing a name that resolves to a forbidden address");
            Err(ForbiddenResolution {
                host: host.to_owned(),
                ip,
            })
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn any_forbidden_answer_refuses_the_name() {
        let policy = FetchPolicy::default();
        assert!(check_answers(&policy, "cv.example", &addrs(&["93.184.216.34"])).is_ok());
        assert!(check_answers(&policy, "cv.example", &addrs(&["2606:4700::1", "1.1.1.1"])).is_ok());
        // DNS rebinding: a public answer next to a private one.
        let refused = check_answers(
            &policy,
            "cv.example",
            &addrs(&["93.184.216.34", "10.0.0.5", "1.1.1.1"]),
        )
        .unwrap_err();
        assert_eq!(refused.host, "cv.example");
        assert_eq!(refused.ip.to_string(), "10.0.0.5");
        assert!(check_answers(&policy, "x.example", &addrs(&["::ffff:169.254.169.254"])).is_err());
    }

    #[test]
    fn allow_listed_names_may_resolve_anywhere() {
        let policy = FetchPolicy {
            allow_hosts: vec!["files.internal".into()],
            ..FetchPolicy::default()
        };
        assert!(check_answers(&policy, "FILES.internal", &addrs(&["10.0.0.5", "::1"])).is_ok());
        assert!(check_answers(&policy, "other.internal", &addrs(&["10.0.0.5"])).is_err());
    }
}
