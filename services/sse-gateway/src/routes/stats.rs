//! `GET /api/v1/sse/stats` (cluster totals with the original fields, a per-pod breakdown,
//! and this pod's connections) and `GET /api/v1/sse/channels` (this pod's channels).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::auth::Principal;
use crate::cluster::{self, PodCounts};
use crate::error::ApiError;

/// Counts of this pod, now.
pub fn local_counts(state: &AppState) -> PodCounts {
    let counts = state.hub.counts();
    PodCounts {
        pod: state.settings.pod.clone(),
        total_connections: counts.connections,
        total_job_subscriptions: counts.jobs,
        total_queue_subscriptions: counts.queues,
        total_worker_subscriptions: counts.workers,
        draining: state.draining.load(std::sync::atomic::Ordering::SeqCst),
        timestamp: progress_contract::time::now_millis(),
    }
}

/// Cluster totals, per-pod counts and this pod's streams (monitor role).
#[utoipa::path(get, path = "/api/v1/sse/stats", tag = "monitoring",
    responses((status = 200, description = "Counts", body = super::schema::Stats)))]
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require_monitor()?;
    let local = state.hub.stats(&state.settings.pod);
    let here = local_counts(&state);
    let mut pods = cluster::read(&state.client, Duration::from_secs(15))
        .await
        .unwrap_or_default();
    pods.retain(|p| p.pod != here.pod);
    pods.push(here);
    pods.sort_by(|a, b| a.pod.cmp(&b.pod));
    let sum = |f: fn(&PodCounts) -> usize| pods.iter().map(f).sum::<usize>();
    Ok(Json(json!({
        "totalConnections": sum(|p| p.total_connections),
        "totalJobSubscriptions": sum(|p| p.total_job_subscriptions),
        "totalQueueSubscriptions": sum(|p| p.total_queue_subscriptions),
        "totalWorkerSubscriptions": sum(|p| p.total_worker_subscriptions),
        "pod": state.settings.pod,
        "pods": pods,
        "connections": local.connections,
    })))
}

/// This pod's channels and Redis subscriptions (monitor role).
#[utoipa::path(get, path = "/api/v1/sse/channels", tag = "monitoring",
    responses((status = 200, description = "Channels", body = super::schema::Channels)))]
pub async fn channels(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require_monitor()?;
    let channels = state.hub.channels();
    let redis = state.hub.redis_channels().await;
    Ok(Json(json!({
        "pod": state.settings.pod,
        "totalChannels": channels.len(),
        "channels": channels,
        "redisSubscriptions": redis,
    })))
}
