//! Tokens for `AUTH_MODE=jwt` tests: an HS256 secret, the RS256/ES256 test keys in
//! `tests/fixtures/jwt`, and a gateway configured to check them.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use sse_gateway::GatewayConfig;
use sse_gateway::auth::AuthMode;
use test_support::SseClient;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, WAIT, spawn_app_with};

pub const SECRET: &str = "test-secret-for-the-gateway-tests-0123456789";
pub const ISSUER: &str = "https://id.test";
pub const AUDIENCE: &str = "resume-progress";

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// Claims of a valid token for `sub` in `org` with `roles`.
pub fn claims(sub: &str, org: Option<&str>, roles: &[&str]) -> Value {
    let mut claims = json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
        "iat": now(), "exp": now() + 600, "roles": roles,
    });
    if let Some(org) = org {
        claims["org"] = json!(org);
    }
    claims
}

/// An HS256 token signed with [`SECRET`].
pub fn sign(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A valid token for `sub` in `org` with `roles`.
pub fn token(sub: &str, org: Option<&str>, roles: &[&str]) -> String {
    sign(&claims(sub, org, roles))
}

/// Signs with one of the fixture private keys (`rsa-private.pem` or `ec-private.pem`).
pub fn sign_with_pem(alg: Algorithm, kid: Option<&str>, pem: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(pem)).unwrap();
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem).unwrap(),
        _ => EncodingKey::from_ec_pem(&pem).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).unwrap()
}

/// `AUTH_MODE=jwt` with [`SECRET`], [`ISSUER`] and [`AUDIENCE`].
pub fn jwt(config: &mut GatewayConfig) {
    config.auth.auth_mode = AuthMode::Jwt;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.auth.jwt_issuer = ISSUER.to_owned();
    config.auth.jwt_audience = AUDIENCE.to_owned();
}

pub async fn spawn_jwt_app() -> TestApp {
    spawn_app_with(jwt).await
}

impl TestApp {
    /// Any request with an optional bearer token; returns status and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn get_as(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post_as(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(token), None)
            .await
    }

    /// Opens a stream with a bearer token and reads `connected`.
    pub async fn connect_as(&self, query: &str, token: &str) -> (SseClient, String) {
        let bearer = format!("Bearer {token}");
        let mut client = SseClient::connect_with(
            &self.url(&format!("/api/v1/sse/connect{query}")),
            &[("authorization", &bearer)],
        )
        .await
        .expect("stream opens");
        let connected = client.next_event(WAIT).await.expect("first event");
        assert_eq!(connected.event, "connected");
        let id = connected.json()["connectionId"]
            .as_str()
            .unwrap()
            .to_owned();
        (client, id)
    }

    /// Starts another gateway on the same Redis, configured by `configure`.
    pub async fn second_gateway_with(
        &self,
        configure: impl FnOnce(&mut GatewayConfig),
    ) -> (String, CancellationToken) {
        let mut config = GatewayConfig::local(self.redis.url());
        configure(&mut config);
        let app = sse_gateway::Application::build(config)
            .await
            .expect("second gateway builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let shutdown = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(shutdown.clone()));
        (base, shutdown)
    }
}
