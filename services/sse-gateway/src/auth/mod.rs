//! Authentication (who is asking) and the rights a token carries.
//!
//! - [`config`]: `AUTH_MODE`, the `JWT_*` keys and claims, role names.
//! - [`keys`]: verification keys from a secret, a PEM file or a JWKS file (no network).
//! - [`token`]: where a request's token is read from (header, query parameter, cookie).
//! - [`verify`]: token → [`Principal`], with `exp`/`nbf`/`iss`/`aud` checks.
//! - [`principal`]: the caller and its rights (subject, organisation, roles).
//! - [`layer`]: the middleware that authenticates every API request and rate-limits POSTs.
//!
//! Ownership rules built on it live with the resources: streams belong to their subject
//! (`session`), jobs to their organisation ([`crate::access`]).

pub mod config;
pub mod keys;
pub mod layer;
pub mod principal;
pub mod token;
pub mod verify;

use axum::http::{HeaderMap, Method, StatusCode, header};

pub use config::{AuthArgs, AuthMode};
pub use principal::Principal;

use crate::error::ApiError;
use verify::{Rejection, Verifier};

/// The configured authentication.
#[derive(Clone)]
pub struct Auth {
    verifier: Option<Verifier>,
    cookie: String,
    /// Origins whose requests may change something with a token from the cookie (the named
    /// origins of `CORS_ALLOWED_ORIGINS`; `*` names none).
    cookie_origins: Vec<String>,
}

impl Auth {
    /// Loads the keys; fails on a mode without keys or unreadable keys.
    pub fn from_args(args: &AuthArgs) -> anyhow::Result<Self> {
        let verifier = match args.auth_mode {
            AuthMode::None => {
                tracing::warn!(
                    "AUTH_MODE=none: every request may read every job and stream and publish; \
                     set AUTH_MODE=jwt anywhere but on a developer machine"
                );
                None
            }
            AuthMode::Jwt => {
                let keys = keys::load(args)?;
                if args.jwt_audience.trim().is_empty() {
                    tracing::warn!(
                        "JWT_AUDIENCE is not set: tokens issued for other services are accepted"
                    );
                }
                if args.jwt_issuer.trim().is_empty() {
                    tracing::warn!(
                        "JWT_ISSUER is not set: tokens of any issuer holding a key are accepted"
                    );
                }
                tracing::info!(keys = keys.len(), "AUTH_MODE=jwt");
                Some(Verifier::new(args, keys))
            }
        };
        Ok(Self {
            verifier,
            cookie: args.auth_cookie.clone(),
            cookie_origins: Vec::new(),
        })
    }

    /// Names the origins (comma-separated, as `CORS_ALLOWED_ORIGINS`) from which a request
    /// other than GET may use a token from the cookie.
    pub fn with_cookie_origins(mut self, origins: &str) -> Self {
        self.cookie_origins = origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty() && *origin != "*")
            .map(str::to_owned)
            .collect();
        self
    }

    /// No authentication (tests, embedding).
    pub fn none() -> Self {
        Self {
            verifier: None,
            cookie: String::new(),
            cookie_origins: Vec::new(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.verifier.is_some()
    }

    /// The caller of a request.
    pub fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Result<Principal, ApiError> {
        let Some(verifier) = &self.verifier else {
            return Ok(Principal::anonymous());
        };
        // A cookie rides along on requests any page makes (a form POST needs no CORS
        // preflight): it is enough to read (GET), but changing something with it needs a
        // request from one of the frontend's own origins.
        let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !reads && token::comes_from_cookie(headers, query, &self.cookie) {
            let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
            if !origin.is_some_and(|origin| self.cookie_origins.iter().any(|o| o == origin)) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "origin_forbidden",
                    "a token in a cookie is accepted on this request only from an origin of \
                     CORS_ALLOWED_ORIGINS; send it in the Authorization header instead",
                ));
            }
        }
        let token = token::find(headers, query, &self.cookie).map_err(|e| match e {
            token::TokenError::Missing => unauthorized(
                "unauthorized",
                "a token is required: Authorization: Bearer, the access_token query parameter or a cookie",
            ),
            token::TokenError::Malformed(why) => unauthorized("invalid_token", why),
        })?;
        verifier
            .verify(&token)
            .map_err(|rejection| match rejection {
                Rejection::Expired => unauthorized("token_expired", "the token has expired"),
                Rejection::NotYetValid => {
                    unauthorized("token_not_yet_valid", "the token is not valid yet (nbf)")
                }
                Rejection::Invalid(why) => unauthorized("invalid_token", why),
            })
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    let mut error = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    error.www_authenticate = Some(if code == "unauthorized" {
        "Bearer"
    } else {
        "Bearer error=\"invalid_token\""
    });
    error
}
