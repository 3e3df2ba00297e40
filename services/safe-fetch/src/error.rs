//! Fetch errors.

use std::net::IpAddr;

/// Why a fetch failed. [`FetchError::code`] gives a stable machine-readable kind.
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

    /// True when trying again later could succeed: timeouts, network errors, 5xx, 429 (too
    /// many requests) and 408 (request timeout). Policy violations, other 4xx, 3xx without a
    /// location and oversize files fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout | FetchError::Network(_) => true,
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let cases = [
            (FetchError::InvalidUrl("x".into()), "invalid_url", false),
            (
                FetchError::SchemeNotAllowed("file".into()),
                "scheme_not_allowed",
                false,
            ),
            (
                FetchError::HostNotAllowed("metadata".into()),
                "host_not_allowed",
                false,
            ),
            (
                FetchError::ForbiddenAddress {
                    host: "x".into(),
                    ip,
                },
                "forbidden_address",
                false,
            ),
            (FetchError::TooManyRedirects(3), "too_many_redirects", false),
            (FetchError::TooLarge { limit: 1 }, "too_large", false),
            (FetchError::Timeout, "timeout", true),
            (FetchError::Network("reset".into()), "network", true),
            (FetchError::Status(304), "http_status", false),
            (FetchError::Status(400), "http_status", false),
            (FetchError::Status(403), "http_status", false),
            (FetchError::Status(404), "http_status", false),
            (FetchError::Status(408), "http_status", true),
            (FetchError::Status(429), "http_status", true),
            (FetchError::Status(500), "http_status", true),
            (FetchError::Status(503), "http_status", true),
        ];
        for (error, code, retryable) in cases {
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.is_retryable(), retryable, "{error:?}");
        }
    }
}
