//! What every handler shares: the hub, the publisher, the queues, settings, auth and limits.
//! Kept apart from the routes, so the middleware (auth, limits) and the access checks can use
//! their part of it without depending on the router.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use progress_contract::Publisher;

use crate::hub::Hub;
use crate::queues::Queues;
use crate::resume::session::SessionStore;

/// Settings the handlers read.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    pub pod: String,
    pub heartbeat_interval: Duration,
    pub retry: Duration,
    pub admin_token: Option<String>,
    pub cors_allowed_origins: String,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Streams end when their token expires (`JWT_CLOSE_EXPIRED_STREAMS`).
    pub close_expired_streams: bool,
}

/// Shared by every handler: one reference-counted allocation, so the copy each extractor and
/// middleware makes per request is one counter increment, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub hub: Arc<Hub>,
    /// Sessions in Redis: a stream held on any pod can be changed or resumed from here.
    pub sessions: SessionStore,
    pub publisher: Publisher,
    pub settings: Arc<ApiSettings>,
    pub queues: Arc<Queues>,
    /// Command client (cluster stats).
    pub client: fred::prelude::Client,
    /// Set on SIGTERM: readiness fails and new streams are refused.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// Authentication (`AUTH_MODE`).
    pub auth: Arc<crate::auth::Auth>,
    /// Streams, subscriptions, POST rate and header limits.
    pub limits: Arc<crate::limits::Limits>,
}

impl FromRef<AppState> for crate::auth::layer::Gate {
    fn from_ref(state: &AppState) -> Self {
        Self {
            auth: state.auth.clone(),
            limits: state.limits.clone(),
        }
    }
}
