//! `AUTH_*` and `JWT_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use service_runtime::config::parse_duration;

/// How requests are authenticated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// No authentication: every request may do everything (local development only).
    #[default]
    None,
    /// Every API request needs a valid JSON Web Token.
    Jwt,
}

/// Authentication and authorisation settings.
#[derive(Clone, Debug, Args)]
pub struct AuthArgs {
    /// `none` (local development: no checks) or `jwt`.
    #[arg(long, env = "AUTH_MODE", value_enum, default_value = "none")]
    pub auth_mode: AuthMode,

    /// HS256 secret (at least 32 bytes); prefer `JWT_SECRET_FILE`.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// File holding the HS256 secret (a mounted Secret).
    #[arg(long, env = "JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,

    /// PEM file with an RSA (RS256) or P-256 (ES256) public key (a mounted Secret).
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// JWKS file (RSA, P-256 or HS256 keys, selected by `kid`), never fetched over the network.
    #[arg(long, env = "JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// Accepted `iss` values, comma-separated; when set, tokens must carry one of them.
    #[arg(long, env = "JWT_ISSUER", default_value = "")]
    pub jwt_issuer: String,

    /// Accepted `aud` values, comma-separated; when set, tokens must carry one of them.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "")]
    pub jwt_audience: String,

    /// Clock skew tolerated on `exp` and `nbf`.
    #[arg(long, env = "JWT_LEEWAY", default_value = "30s", value_parser = parse_duration)]
    pub jwt_leeway: Duration,

    /// Close a stream when the token it was opened with expires (`exp` plus `JWT_LEEWAY`),
    /// with a `closing` event (reason `token_expired`): the client reconnects with a fresh
    /// token and resumes. `false` lets streams outlive their tokens.
    #[arg(long, env = "JWT_CLOSE_EXPIRED_STREAMS", default_value_t = true, action = clap::ArgAction::Set)]
    pub jwt_close_expired_streams: bool,

    /// Claim naming the subject (owner of streams); dotted paths reach nested claims.
    #[arg(long, env = "JWT_SUBJECT_CLAIM", default_value = "sub")]
    pub jwt_subject_claim: String,

    /// Claim naming the organisation (owner of jobs).
    #[arg(long, env = "JWT_ORGANISATION_CLAIM", default_value = "org")]
    pub jwt_organisation_claim: String,

    /// Claim holding the roles: an array of strings, or one space-separated string.
    #[arg(long, env = "JWT_ROLES_CLAIM", default_value = "roles")]
    pub jwt_roles_claim: String,

    /// Role needed for queue and worker channels, stats, queue counts and the worker list.
    #[arg(long, env = "AUTH_MONITOR_ROLE", default_value = "monitor")]
    pub auth_monitor_role: String,

    /// Role needed for broadcasts, custom events and the publish API.
    #[arg(long, env = "AUTH_PUBLISH_ROLE", default_value = "publisher")]
    pub auth_publish_role: String,

    /// Cookie a token may also come in (for EventSource, which cannot set headers).
    #[arg(long, env = "AUTH_COOKIE", default_value = "access_token")]
    pub auth_cookie: String,
}
