//! A token becomes a [`Principal`]: signature by a configured key (chosen by `kid` and the
//! algorithm bound to the key), then `exp`, `nbf`, `iss` and `aud` with a small leeway, then
//! the subject, organisation and roles from configurable claims.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::Value;

use super::config::AuthArgs;
use super::keys::{ALGORITHMS, VerificationKey};
use super::principal::Principal;

/// Longest subject or organisation accepted (they become parts of Redis values).
const MAX_ID_LEN: usize = 256;

/// Why a token is refused. The messages name the check that failed, never the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    Expired,
    NotYetValid,
    Invalid(&'static str),
}

/// Which claims carry what.
#[derive(Clone, Debug)]
struct ClaimNames {
    subject: String,
    organisation: String,
    roles: String,
    monitor_role: String,
    publish_role: String,
}

/// Checks tokens against the configured keys.
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<VerificationKey>,
    validation: Validation,
    claims: ClaimNames,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Verifier {
    pub fn new(args: &AuthArgs, keys: Vec<VerificationKey>) -> Self {
        let mut validation = Validation::new(ALGORITHMS[0]);
        validation.leeway = args.jwt_leeway.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        let issuers = list(&args.jwt_issuer);
        if !issuers.is_empty() {
            validation.set_issuer(&issuers);
            required.push("iss");
        }
        let audiences = list(&args.jwt_audience);
        if audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&audiences);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Self {
            keys,
            validation,
            claims: ClaimNames {
                subject: args.jwt_subject_claim.clone(),
                organisation: args.jwt_organisation_claim.clone(),
                roles: args.jwt_roles_claim.clone(),
                monitor_role: args.auth_monitor_role.clone(),
                publish_role: args.auth_publish_role.clone(),
            },
        }
    }

    /// Verifies `token` and reads its identity.
    pub fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        let header = decode_header(token).map_err(|_| Rejection::Invalid("malformed token"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Rejection::Invalid("the token's algorithm is not accepted"));
        }
        let candidates = self.keys.iter().filter(|key| {
            key.algorithm == header.alg
                && match (&header.kid, &key.kid) {
                    (Some(wanted), Some(have)) => wanted == have,
                    _ => true,
                }
        });
        let mut tried = false;
        for key in candidates {
            tried = true;
            let mut validation = self.validation.clone();
            validation.algorithms = vec![key.algorithm];
            match decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return self.principal(&data.claims),
                Err(error) if *error.kind() == ErrorKind::InvalidSignature => continue,
                Err(error) => return Err(rejection(error.kind())),
            }
        }
        Err(Rejection::Invalid(if tried {
            "the token's signature does not verify"
        } else {
            "no key matches the token's kid and algorithm"
        }))
    }

    fn principal(&self, claims: &Value) -> Result<Principal, Rejection> {
        let subject = string_claim(claims, &self.claims.subject)
            .ok_or(Rejection::Invalid("the token has no usable subject claim"))?;
        let organisation = match claim(claims, &self.claims.organisation) {
            None | Some(Value::Null) => None,
            Some(_) => Some(string_claim(claims, &self.claims.organisation).ok_or(
                Rejection::Invalid("the organisation claim is not a usable name"),
            )?),
        };
        let roles = match claim(claims, &self.claims.roles) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(_) => return Err(Rejection::Invalid("the roles claim is not a list")),
        };
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_f64)
            .filter(|exp| exp.is_finite() && *exp >= 0.0)
            .map(|exp| {
                (exp as u64)
                    .saturating_add(self.validation.leeway)
                    .saturating_mul(1000)
            });
        Ok(Principal::from_claims(
            subject,
            organisation,
            roles,
            &self.claims.monitor_role,
            &self.claims.publish_role,
        )
        .expiring_at(expires_at))
    }
}

/// A claim by dotted path (`realm_access.roles`); a claim whose own name holds dots wins.
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    path.split('.')
        .try_fold(claims, |value, part| value.get(part))
}

/// A non-empty string (or integer) of at most 256 characters without control characters.
fn string_claim(claims: &Value, path: &str) -> Option<String> {
    let text = match claim(claims, path)? {
        Value::String(text) => text.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => return None,
    };
    let usable = !text.trim().is_empty()
        && text.chars().count() <= MAX_ID_LEN
        && !text.chars().any(char::is_control);
    usable.then_some(text)
}

fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidAudience => Rejection::Invalid("the token's audience is not accepted"),
        ErrorKind::InvalidIssuer => Rejection::Invalid("the token's issuer is not accepted"),
        ErrorKind::MissingRequiredClaim(_) => Rejection::Invalid(
            "the token lacks a required claim (exp, and iss/aud when configured)",
        ),
        ErrorKind::InvalidClaimFormat(_) => Rejection::Invalid("a time claim is malformed"),
        ErrorKind::InvalidAlgorithm => Rejection::Invalid("the token's algorithm is not accepted"),
        _ => Rejection::Invalid("malformed token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthArgs,
    }

    fn verifier(extra: &[&str]) -> Verifier {
        let mut argv = vec!["t", "--auth-mode", "jwt"];
        argv.extend_from_slice(extra);
        let args = Cli::parse_from(argv).auth;
        let key = VerificationKey {
            kid: None,
            algorithm: Algorithm::HS256,
            key: jsonwebtoken::DecodingKey::from_secret(SECRET),
        };
        Verifier::new(&args, vec![key])
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn sign(claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    #[test]
    fn reads_identity_from_configurable_claims() {
        let v = verifier(&[
            "--jwt-organisation-claim",
            "tenant.id",
            "--jwt-roles-claim",
            "scope",
        ]);
        let p = v
            .verify(&sign(json!({"sub": "u1", "exp": now() + 60, "tenant": {"id": "org-1"}, "scope": "monitor read"})))
            .unwrap();
        assert_eq!(p.subject.as_deref(), Some("u1"));
        assert_eq!(p.organisation.as_deref(), Some("org-1"));
        assert!(p.monitor && !p.publish);
    }

    #[test]
    fn time_claims_have_a_small_leeway() {
        let v = verifier(&[]);
        assert!(
            v.verify(&sign(json!({"sub": "u", "exp": now() - 10})))
                .is_ok()
        );
        assert_eq!(
            v.verify(&sign(json!({"sub": "u", "exp": now() - 120}))),
            Err(Rejection::Expired)
        );
        assert_eq!(
            v.verify(&sign(
                json!({"sub": "u", "exp": now() + 600, "nbf": now() + 300})
            )),
            Err(Rejection::NotYetValid)
        );
        assert!(matches!(
            v.verify(&sign(json!({"sub": "u"}))),
            Err(Rejection::Invalid(_))
        ));
    }

    #[test]
    fn issuer_and_audience_are_required_when_configured() {
        let v = verifier(&[
            "--jwt-issuer",
            "https://id.example",
            "--jwt-audience",
            "progress",
        ]);
        let good = json!({"sub": "u", "exp": now() + 60, "iss": "https://id.example", "aud": ["x", "progress"]});
        assert!(v.verify(&sign(good)).is_ok());
        for bad in [
            json!({"sub": "u", "exp": now() + 60, "iss": "https://id.example"}),
            json!({"sub": "u", "exp": now() + 60, "iss": "https://id.example", "aud": "other"}),
            json!({"sub": "u", "exp": now() + 60, "iss": "https://evil.example", "aud": "progress"}),
        ] {
            assert!(matches!(v.verify(&sign(bad)), Err(Rejection::Invalid(_))));
        }
    }

    #[test]
    fn forged_and_unusable_tokens_are_invalid() {
        let v = verifier(&[]);
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "u", "exp": now() + 60}),
            &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
        )
        .unwrap();
        assert!(matches!(v.verify(&forged), Err(Rejection::Invalid(_))));
        // alg=none, hand-made.
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjo5OTk5OTk5OTk5fQ.";
        assert!(matches!(v.verify(none), Err(Rejection::Invalid(_))));
        for garbage in ["", "a.b", "a.b.c", "....", "\u{e9}.\u{e9}.\u{e9}"] {
            assert!(matches!(v.verify(garbage), Err(Rejection::Invalid(_))));
        }
        for claims in [
            json!({"exp": now() + 60}),
            json!({"sub": "", "exp": now() + 60}),
            json!({"sub": "a\nb", "exp": now() + 60}),
            json!({"sub": "u", "exp": now() + 60, "org": {"x": 1}}),
            json!({"sub": "u", "exp": now() + 60, "roles": 5}),
        ] {
            assert!(matches!(
                v.verify(&sign(claims)),
                Err(Rejection::Invalid(_))
            ));
        }
    }
}
