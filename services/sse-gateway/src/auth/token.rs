//! Where a request's token comes from: `Authorization: Bearer …`, else the `access_token`
//! query parameter, else a cookie (EventSource can set neither headers nor a body). The
//! token is only ever read here and handed to the verifier: it is not logged, not put on a
//! span, and not echoed in an error.

use axum::http::{HeaderMap, header};

/// The query parameter a token may come in.
pub const QUERY_PARAMETER: &str = "access_token";

/// Longest token accepted (the header size limit bounds it anyway).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why no usable token was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// No token in any of the places.
    Missing,
    /// An `Authorization` header with another scheme, several tokens, an empty or oversized
    /// token.
    Malformed(&'static str),
}

/// The request's token, if any.
pub fn find(
    headers: &HeaderMap,
    query: Option<&str>,
    cookie_name: &str,
) -> Result<String, TokenError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    if let Some(value) = authorization.next() {
        if authorization.next().is_some() {
            return Err(TokenError::Malformed("more than one Authorization header"));
        }
        let value = value
            .to_str()
            .map_err(|_| TokenError::Malformed("the Authorization header is not ASCII"))?;
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Malformed(
                "the Authorization header must use the Bearer scheme",
            ));
        }
        return checked(token.trim());
    }
    if let Some(token) = query.and_then(from_query) {
        return checked(&token?);
    }
    if let Some(token) = from_cookies(headers, cookie_name) {
        return checked(token);
    }
    Err(TokenError::Missing)
}

/// Whether the token [`find`] takes is the cookie's: a credential the browser adds by itself,
/// even to requests a third-party page makes.
pub fn comes_from_cookie(headers: &HeaderMap, query: Option<&str>, cookie_name: &str) -> bool {
    headers.get(header::AUTHORIZATION).is_none()
        && query.and_then(from_query).is_none()
        && from_cookies(headers, cookie_name).is_some()
}

fn checked(token: &str) -> Result<String, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Malformed("the token is empty"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("the token is too long"));
    }
    Ok(token.to_owned())
}

/// `access_token` from a query string; an error when it appears more than once.
fn from_query(query: &str) -> Option<Result<String, TokenError>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    let mut tokens = pairs.into_iter().filter(|(k, _)| k == QUERY_PARAMETER);
    let first = tokens.next()?;
    if tokens.next().is_some() {
        return Some(Err(TokenError::Malformed(
            "access_token is given more than once",
        )));
    }
    Some(Ok(first.1))
}

fn from_cookies<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn header_wins_then_query_then_cookie() {
        let all = headers(&[
            ("authorization", "Bearer h.h.h"),
            ("cookie", "a=1; access_token=c.c.c"),
        ]);
        assert_eq!(
            find(&all, Some("access_token=q.q.q"), "access_token").unwrap(),
            "h.h.h"
        );
        let cookie = headers(&[("cookie", "a=1; access_token=c.c.c")]);
        assert_eq!(
            find(&cookie, Some("jobs=1&access_token=q.q%2Eq"), "access_token").unwrap(),
            "q.q.q"
        );
        assert_eq!(
            find(&cookie, Some("jobs=1"), "access_token").unwrap(),
            "c.c.c"
        );
        assert_eq!(
            find(&cookie, None, "session").unwrap_err(),
            TokenError::Missing
        );
        assert_eq!(
            find(&headers(&[("authorization", "bearer x")]), None, "t").unwrap(),
            "x"
        );
    }

    #[test]
    fn a_cookie_token_is_told_apart() {
        let cookie = headers(&[("cookie", "access_token=c.c.c")]);
        assert!(comes_from_cookie(&cookie, None, "access_token"));
        assert!(!comes_from_cookie(
            &cookie,
            Some("access_token=q"),
            "access_token"
        ));
        let both = headers(&[("cookie", "access_token=c"), ("authorization", "Bearer h")]);
        assert!(!comes_from_cookie(&both, None, "access_token"));
        assert!(!comes_from_cookie(&HeaderMap::new(), None, "access_token"));
    }

    #[test]
    fn malformed_tokens_are_named() {
        for value in ["Basic dXNlcjpwdw==", "Bearer", "Bearer    ", "Token abc"] {
            assert!(
                matches!(
                    find(&headers(&[("authorization", value)]), None, "t"),
                    Err(TokenError::Malformed(_))
                ),
                "{value}"
            );
        }
        let twice = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert!(matches!(
            find(&twice, None, "t"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            find(
                &HeaderMap::new(),
                Some("access_token=a&access_token=b"),
                "t"
            ),
            Err(TokenError::Malformed(_))
        ));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert!(matches!(
            find(&headers(&[("authorization", &long)]), None, "t"),
            Err(TokenError::Malformed(_))
        ));
    }
}
