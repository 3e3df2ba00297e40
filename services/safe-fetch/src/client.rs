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
            if let Err(refused) = self.check(&current) {
                tracing::debug!(url = %current, redirects, error = %refused, "refusing to fetch");
                return Err(refused);
            }
            let response = self
                .client
                .get(current.clone())
                .send()
                .await
                .map_err(map_error)?;
            let status = response.status();
            if status.is_redirection() {
                // A 3xx without a Location (e.g. 304) is not a success.
                let location = response
                    .headers()
                    .get(LOCATION)
                    .ok_or(FetchError::Status(status.as_u16()))?
                    .to_str()
                    .map_err(|_| FetchError::InvalidUrl("unreadable redirect location".into()))?;
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
            .or_else(|| path_file_name(&url));
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

/// The file name in a `Content-Disposition` header: `filename*` (RFC 6266 / 8187) first, then
/// `filename`; path components and control characters are dropped.
fn disposition_file_name(header: &str) -> Option<String> {
    let params: Vec<(String, String)> = split_params(header)
        .into_iter()
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    let extended = params
        .iter()
        .find(|(name, _)| name == "filename*")
        .and_then(|(_, value)| {
            // charset'language'percent-encoded
            let mut parts = value.splitn(3, '\'');
            let charset = parts.next()?;
            let _language = parts.next()?;
            let encoded = parts.next()?;
            let bytes = percent_decode(unquote(encoded).as_bytes());
            if charset.eq_ignore_ascii_case("utf-8") {
                String::from_utf8(bytes).ok()
            } else {
                // ISO-8859-1: every byte is the code point of the same value.
                Some(bytes.into_iter().map(char::from).collect())
            }
        })
        .and_then(|name| clean_file_name(&name));
    extended.or_else(|| {
        params
            .iter()
            .find(|(name, _)| name == "filename")
            .and_then(|(_, value)| clean_file_name(&unquote(value)))
    })
}

/// The last path segment of a URL, percent-decoded.
fn path_file_name(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    let decoded = String::from_utf8_lossy(&percent_decode(segment.as_bytes())).into_owned();
    clean_file_name(&decoded)
}

/// Splits on `;` outside double quotes.
fn split_params(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

/// `"a \"b\""` → `a "b"`; unquoted values are returned as they are.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let decoded = match input.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

/// Keeps only the last path component, without control characters; `None` if nothing
/// usable is left.
fn clean_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_owned())
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
    use super::*;

    #[test]
    fn reads_file_names_from_content_disposition() {
        let cases = [
            ("attachment; filename=\"cv.pdf\"", Some("cv.pdf")),
            ("inline; filename=../../etc/x.txt", Some("x.txt")),
            (
                "attachment; FileName=\"C:\\\\Users\\\\me\\\\cv.docx\"",
                Some("cv.docx"),
            ),
            ("attachment; filename=\"a;b.pdf\"", Some("a;b.pdf")),
            (
                "attachment; filename=\"say \\\"hi\\\".pdf\"",
                Some("say \"hi\".pdf"),
            ),
            (
                "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''J%C3%A1ne%20Doe.pdf",
                Some("Jáne Doe.pdf"),
            ),
            (
                "attachment; filename*=iso-8859-1'en'J%E1ne.pdf",
                Some("Jáne.pdf"),
            ),
            ("attachment; filename=\"..\"", None),
            ("attachment; filename=\"\"", None),
            ("inline", None),
        ];
        for (header, expected) in cases {
            assert_eq!(
                disposition_file_name(header).as_deref(),
                expected,
                "{header}"
            );
        }
    }

    #[test]
    fn reads_file_names_from_the_path() {
        let name = |url: &str| path_file_name(&Url::parse(url).unwrap());
        assert_eq!(
            name("https://x.example/a/Jane%20Doe%20CV.pdf").as_deref(),
            Some("Jane Doe CV.pdf")
        );
        assert_eq!(
            name("https://x.example/a/b.pdf?x=1").as_deref(),
            Some("b.pdf")
        );
        assert_eq!(name("https://x.example/a/%2e%2e").as_deref(), None);
        assert_eq!(
            name("https://x.example/a%2Fb%5Cc.txt").as_deref(),
            Some("c.txt")
        );
        assert_eq!(name("https://x.example/"), None);
        assert_eq!(name("https://x.example/dir/"), None);
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%zz%41"), b"%zzA");
    }
}
