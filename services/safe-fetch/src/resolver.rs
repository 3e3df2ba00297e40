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
            let forbidden = addrs.iter().find(|a| is_forbidden_ip(a.ip()));
            if let (false, Some(bad)) = (policy.is_allow_listed(&host), forbidden) {
                return Err(Box::new(ForbiddenResolution { host, ip: bad.ip() }) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}
