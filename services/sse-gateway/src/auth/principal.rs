//! Who is asking, and what they may do.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The caller of a request, from its token (or everyone, with `AUTH_MODE=none`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// `None` only with `AUTH_MODE=none`.
    pub subject: Option<String>,
    pub organisation: Option<String>,
    pub roles: Vec<String>,
    /// Holds the monitor role (queue and worker channels, stats).
    pub monitor: bool,
    /// Holds the publish role (broadcasts, custom events, the publish API).
    pub publish: bool,
    /// When the token stops being accepted (its `exp` plus `JWT_LEEWAY`), in milliseconds
    /// since the epoch: a stream opened with it is closed then.
    pub expires_at: Option<u64>,
    anonymous: bool,
}

impl Principal {
    /// `AUTH_MODE=none`: no identity, every right.
    pub fn anonymous() -> Self {
        Self {
            subject: None,
            organisation: None,
            roles: Vec::new(),
            monitor: true,
            publish: true,
            expires_at: None,
            anonymous: true,
        }
    }

    /// A verified token's identity.
    pub fn from_claims(
        subject: String,
        organisation: Option<String>,
        roles: Vec<String>,
        monitor_role: &str,
        publish_role: &str,
    ) -> Self {
        Self {
            monitor: roles.iter().any(|r| r == monitor_role),
            publish: roles.iter().any(|r| r == publish_role),
            subject: Some(subject),
            organisation,
            roles,
            expires_at: None,
            anonymous: false,
        }
    }

    /// The same identity, valid until `expires_at` (ms since the epoch).
    pub fn expiring_at(mut self, expires_at: Option<u64>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// True with `AUTH_MODE=none`: nothing is checked.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    pub fn require_monitor(&self) -> Result<(), ApiError> {
        if self.monitor {
            Ok(())
        } else {
            Err(role_required("monitor"))
        }
    }

    pub fn require_publish(&self) -> Result<(), ApiError> {
        if self.publish {
            Ok(())
        } else {
            Err(role_required("publish"))
        }
    }

    /// The organisation a job-related request acts for.
    pub fn require_organisation(&self) -> Result<&str, ApiError> {
        self.organisation.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "organisation_required",
                "the token names no organisation; jobs belong to organisations",
            )
        })
    }

    /// The organisation a new job gets: the token's. A body naming another one is refused;
    /// `None` only with `AUTH_MODE=none` (the body's value is kept as it is).
    pub fn organisation_for_new_job(
        &self,
        requested: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        if self.anonymous {
            return Ok(requested.map(str::to_owned));
        }
        let own = self.require_organisation()?;
        match requested {
            Some(other) if other != own => Err(organisation_mismatch(
                "organisationId differs from the token's organisation",
            )),
            _ => Ok(Some(own.to_owned())),
        }
    }

    /// Whether this caller may see a job owned by `owner`.
    pub fn check_job_owner(&self, owner: Option<&str>) -> Result<(), ApiError> {
        if self.anonymous {
            return Ok(());
        }
        let own = self.require_organisation()?;
        if owner == Some(own) {
            Ok(())
        } else {
            Err(organisation_mismatch(
                "this job belongs to another organisation",
            ))
        }
    }

    /// Whether this caller owns a stream whose session names `owner` as its subject.
    pub fn check_stream_owner(&self, owner: Option<&str>) -> Result<(), ApiError> {
        if self.anonymous || owner == self.subject.as_deref() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "connection_forbidden",
                "this stream belongs to another subject",
            ))
        }
    }
}

fn role_required(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "role_required",
        format!("the token lacks the {what} role this endpoint needs"),
    )
}

pub fn organisation_mismatch(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "organisation_mismatch", message)
}

/// Handlers take the principal the authentication layer attached to the request.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs a token",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(org: Option<&str>, roles: &[&str]) -> Principal {
        Principal::from_claims(
            "alice".into(),
            org.map(str::to_owned),
            roles.iter().map(|r| (*r).to_owned()).collect(),
            "monitor",
            "publisher",
        )
    }

    #[test]
    fn anonymous_may_do_everything() {
        let p = Principal::anonymous();
        assert!(p.require_monitor().is_ok() && p.require_publish().is_ok());
        assert!(p.check_job_owner(Some("x")).is_ok());
        assert!(p.check_stream_owner(Some("bob")).is_ok());
        assert_eq!(
            p.organisation_for_new_job(Some("org-1")).unwrap(),
            Some("org-1".into())
        );
    }

    #[test]
    fn members_act_for_their_organisation_only() {
        let p = member(Some("org-1"), &["monitor"]);
        assert!(p.require_monitor().is_ok());
        assert_eq!(p.require_publish().unwrap_err().code, "role_required");
        assert!(p.check_job_owner(Some("org-1")).is_ok());
        assert_eq!(
            p.check_job_owner(Some("org-2")).unwrap_err().code,
            "organisation_mismatch"
        );
        assert!(p.check_job_owner(None).is_err());
        assert_eq!(
            p.organisation_for_new_job(None).unwrap(),
            Some("org-1".into())
        );
        assert!(p.organisation_for_new_job(Some("org-2")).is_err());
        assert!(p.check_stream_owner(Some("alice")).is_ok());
        assert_eq!(
            p.check_stream_owner(Some("bob")).unwrap_err().code,
            "connection_forbidden"
        );
        assert_eq!(
            member(None, &[]).require_organisation().unwrap_err().code,
            "organisation_required"
        );
    }
}
