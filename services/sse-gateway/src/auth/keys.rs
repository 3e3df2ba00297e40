//! Verification keys, read once at start-up from the environment or from files mounted from a
//! Secret. Nothing is fetched over the network: a JWKS is a file (rotate by publishing the
//! new key next to the old one, then rolling the pods).

use std::path::Path;

use anyhow::{Context, bail, ensure};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::config::AuthArgs;

/// The algorithms accepted. Each key is bound to exactly one of them, so a token can never
/// choose how it is checked (no `none`, no HS256 with a public key as the secret).
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256];

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
const MIN_SECRET_BYTES: usize = 32;

/// One key and the only algorithm it verifies.
#[derive(Clone)]
pub struct VerificationKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Every key configured; at least one.
pub fn load(args: &AuthArgs) -> anyhow::Result<Vec<VerificationKey>> {
    let mut keys = Vec::new();
    let secret = match (&args.jwt_secret, &args.jwt_secret_file) {
        (Some(_), Some(_)) => bail!("set JWT_SECRET or JWT_SECRET_FILE, not both"),
        (Some(secret), None) => Some(secret.clone().into_bytes()),
        (None, Some(path)) => Some(read(path, "JWT_SECRET_FILE")?),
        (None, None) => None,
    };
    if let Some(secret) = secret {
        keys.push(hmac_key(trim_newline(&secret), None).context("JWT_SECRET")?);
    }
    if let Some(path) = &args.jwt_public_key_file {
        keys.push(pem_key(&read(path, "JWT_PUBLIC_KEY_FILE")?).context("JWT_PUBLIC_KEY_FILE")?);
    }
    if let Some(path) = &args.jwt_jwks_file {
        let text = read(path, "JWT_JWKS_FILE")?;
        keys.extend(jwks_keys(&text).context("JWT_JWKS_FILE")?);
    }
    ensure!(
        !keys.is_empty(),
        "AUTH_MODE=jwt needs a key: JWT_SECRET(_FILE), JWT_PUBLIC_KEY_FILE or JWT_JWKS_FILE"
    );
    Ok(keys)
}

fn read(path: &Path, variable: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{variable}: reading {}", path.display()))
}

/// Secrets mounted from files often end with a newline that is not part of the secret.
fn trim_newline(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

fn hmac_key(secret: &[u8], kid: Option<String>) -> anyhow::Result<VerificationKey> {
    ensure!(
        secret.len() >= MIN_SECRET_BYTES,
        "an HS256 secret must be at least {MIN_SECRET_BYTES} bytes"
    );
    Ok(VerificationKey {
        kid,
        algorithm: Algorithm::HS256,
        key: DecodingKey::from_secret(secret),
    })
}

/// An RSA key verifies RS256, a P-256 key ES256.
pub fn pem_key(pem: &[u8]) -> anyhow::Result<VerificationKey> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok(VerificationKey {
            kid: None,
            algorithm: Algorithm::RS256,
            key,
        });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok(VerificationKey {
            kid: None,
            algorithm: Algorithm::ES256,
            key,
        });
    }
    bail!("not a PEM RSA or P-256 public key")
}

/// Every usable key of a JWKS; keys for other uses or algorithms are skipped.
pub fn jwks_keys(json: &[u8]) -> anyhow::Result<Vec<VerificationKey>> {
    let set: JwkSet = serde_json::from_slice(json).context("not a JWKS document")?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        match jwk_key(jwk) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {
                tracing::warn!(kid = ?jwk.common.key_id, "JWKS key skipped: unsupported algorithm or use")
            }
            Err(error) => bail!("key {:?}: {error:#}", jwk.common.key_id),
        }
    }
    ensure!(
        !keys.is_empty(),
        "the JWKS holds no RS256, ES256 or HS256 key"
    );
    Ok(keys)
}

fn jwk_key(jwk: &Jwk) -> anyhow::Result<Option<VerificationKey>> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
    {
        return Ok(None);
    }
    let natural = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
        _ => return Ok(None),
    };
    let declared = match jwk.common.key_algorithm {
        None => natural,
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::HS256) => Algorithm::HS256,
        Some(_) => return Ok(None),
    };
    if declared != natural {
        return Ok(None);
    }
    let key = DecodingKey::from_jwk(jwk).context("unusable key material")?;
    if declared == Algorithm::HS256 {
        let bytes = key.try_get_as_bytes().context("unusable secret")?;
        ensure!(
            bytes.len() >= MIN_SECRET_BYTES,
            "an HS256 secret must be at least {MIN_SECRET_BYTES} bytes"
        );
    }
    Ok(Some(VerificationKey {
        kid: jwk.common.key_id.clone(),
        algorithm: declared,
        key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        assert!(hmac_key(b"too short", None).is_err());
        assert!(hmac_key(&[b'k'; 32], None).is_ok());
        assert_eq!(trim_newline(b"secret\r\n"), b"secret");
    }

    #[test]
    fn jwks_keys_are_bound_to_their_algorithm() {
        let jwks = br#"{"keys":[
            {"kty":"oct","kid":"h1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0","alg":"HS256"},
            {"kty":"oct","kid":"h2","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0","alg":"HS512"},
            {"kty":"oct","kid":"enc","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0","use":"enc"}
        ]}"#;
        let keys = jwks_keys(jwks).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("h1"));
        assert_eq!(keys[0].algorithm, Algorithm::HS256);
        assert!(jwks_keys(br#"{"keys":[]}"#).is_err());
        assert!(jwks_keys(b"not json").is_err());
        assert!(pem_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }
}
