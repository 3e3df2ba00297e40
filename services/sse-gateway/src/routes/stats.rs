//! `GET /api/v1/sse/stats` and `GET /api/v1/sse/channels` (this pod's view).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::AppState;
use crate::hub::Stats;

pub async fn stats(State(state): State<AppState>) -> Json<Stats> {
    Json(state.hub.stats(&state.settings.pod))
}

pub async fn channels(State(state): State<AppState>) -> Json<Value> {
    let channels = state.hub.channels();
    let redis = state.hub.redis_channels().await;
    Json(json!({
        "pod": state.settings.pod,
        "totalChannels": channels.len(),
        "channels": channels,
        "redisSubscriptions": redis,
    }))
}
