//! The fetcher. Redirects are followed by hand so that every hop is checked against the
//! policy (scheme, host, literal address) before a connection is made; names are checked by
//! the resolver at connect time.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::Url;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;

use crate::address::{METADATA_HOSTS, is_forbidden_ip};
use crate::error::FetchError;
use crate::policy::{FetchPolicy, normalise_host};
use crate::resolver::{ForbiddenResolution, GuardedResolver};

/// A downloaded file.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    /// The URL after redirects.
    pub final_url: String,
    /// From `Content-Disposition`, else the last path segment.
    pub file_name: Option<String>,
}

/// Fetches URLs under a [`FetchPolicy`]. Cheap to clone.
#[derive(Clone)]
pub struct SafeFetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl SafeFetcher {
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .connect_timeout(policy.connect_timeout)
            .user_agent(policy.user_agent.clone())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .build()
            .map_err(|e| FetchError::Network(format!("building the HTTP client: {e}")))?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Downloads `url`, following at most `max_redirects` checked redirects.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.policy.timeout, self.fetch_within_time(url)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn fetch_within_time(&self, url: &str) -> Result<Fetched, FetchError> {
        let mut current = Url::parse(url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        let mut redirects = 0;
        loop {
            self.check(&current)?;
            let response = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(map_error)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                redirects += 1;
                if redirects > self.policy.max_redirects {
                    return Err(FetchError::TooManyRedirects(self.policy.max_redirects));
                }
                current = current.join(location).map_err(|e| {
                    FetchError::InvalidUrl(format!("redirect to {location:?}: {e}"))
                })?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            return self.read_body(current, response).await;
        }
    }

    /// Refuses a URL before any connection: scheme, credentials, host lists, literal
    /// addresses and metadata names.
    fn check(&self, url: &Url) -> Result<(), FetchError> {
        let scheme = url.scheme();
        if !self
            .policy
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Err(FetchError::SchemeNotAllowed(scheme.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl(
                "URLs with credentials are not allowed".into(),
            ));
        }
        let host_text = url
            .host_str()
            .ok_or_else(|| FetchError::InvalidUrl("the URL has no host".into()))?;
        if !self.policy.is_permitted_host(host_text) {
            return Err(FetchError::HostNotAllowed(host_text.to_owned()));
        }
        if self.policy.is_allow_listed(host_text) {
            return Ok(());
        }
        let literal: Option<IpAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        match literal {
            Some(ip) if is_forbidden_ip(ip) => Err(FetchError::ForbiddenAddress {
                host: host_text.to_owned(),
                ip,
            }),
            None if METADATA_HOSTS.contains(&normalise_host(host_text).as_str()) => {
                Err(FetchError::HostNotAllowed(host_text.to_owned()))
            }
            _ => Ok(()),
        }
    }

    async fn read_body(
        &self,
        url: Url,
        response: reqwest::Response,
    ) -> Result<Fetched, FetchError> {
        let limit = self.policy.max_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        let file_name = header(CONTENT_DISPOSITION)
            .and_then(|d| disposition_file_name(&d))
            .or_else(|| {
                url.path_segments()
                    .and_then(|mut s| s.next_back())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            });
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(map_error)?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes: body.freeze(),
            content_type,
            final_url: url.to_string(),
            file_name,
        })
    }
}

/// `attachment; filename="cv.pdf"` → `cv.pdf`.
fn disposition_file_name(header: &str) -> Option<String> {
    header.split(';').map(str::trim).find_map(|part| {
        let value = part.strip_prefix("filename=")?;
        let value = value.trim_matches('"');
        let name = value.rsplit(['/', '\\']).next().unwrap_or(value);
        (!name.is_empty()).then(|| name.to_owned())
    })
}

fn map_error(error: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(forbidden) = current.downcast_ref::<ForbiddenResolution>() {
            return FetchError::ForbiddenAddress {
                host: forbidden.host.clone(),
                ip: forbidden.ip,
            };
        }
        source = current.source();
    }
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    FetchError::Network(error.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::disposition_file_name;

    #[test]
    fn reads_file_names_from_content_disposition() {
        assert_eq!(
            disposition_file_name("attachment; filename=\"cv.pdf\"").as_deref(),
            Some("cv.pdf")
        );
        assert_eq!(
            disposition_file_name("inline; filename=../../etc/x.txt").as_deref(),
            Some("x.txt")
        );
        assert_eq!(disposition_file_name("inline"), None);
    }
}
