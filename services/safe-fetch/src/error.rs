//! Fetch errors.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("URL scheme `{0}` is not allowed (use http or https)")]
    SchemeNotAllowed(String),
    #[error("host `{0}` is not allowed")]
    HostNotAllowed(String),
    #[error(
        "host `{host}` resolves to {ip}, a private or reserved address that may not be fetched"
    )]
    ForbiddenAddress { host: String, ip: IpAddr },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the download timed out")]
    Timeout,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("network error: {0}")]
    Network(String),
}

impl FetchError {
    /// Short machine-readable kind.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::SchemeNotAllowed(_) => "scheme_not_allowed",
            FetchError::HostNotAllowed(_) => "host_not_allowed",
            FetchError::ForbiddenAddress { .. } => "forbidden_address",
            FetchError::TooManyRedirects(_) => "too_many_redirects",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Timeout => "timeout",
            FetchError::Status(_) => "http_status",
            FetchError::Network(_) => "network",
        }
    }

    /// True when trying again later could succeed: timeouts, network errors, 5xx and 429.
    /// Policy violations, 4xx and oversize files fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout | FetchError::Network(_) => true,
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            _ => false,
        }
    }
}
