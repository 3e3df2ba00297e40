//! Requests from other pods for streams held here, on this pod's control channel
//! `sse:pod:{pod}`: one Redis subscription per pod, however many streams it holds.

use std::sync::Arc;

use progress_contract::Channel;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Hub;

pub fn channel_of(pod: &str) -> String {
    crate::keys::control_channel(pod)
}

/// A request for a stream held by another pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlOp {
    Subscribe {
        connection_id: Uuid,
        channel: String,
        /// Live events only: no history, snapshot or state first (`?replay=false`). Absent
        /// in requests from gateways that predate it: replay.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        live_only: bool,
    },
    Unsubscribe {
        connection_id: Uuid,
        channel: String,
    },
    /// The client reconnected to another pod: end the stale stream here without writing
    /// its position.
    Superseded { connection_id: Uuid },
}

impl Hub {
    /// Sends `op` to the pod `pod`; returns how many pods received it (0: it is gone).
    pub async fn send_control(&self, pod: &str, op: &ControlOp) -> Result<u64, fred::error::Error> {
        use fred::prelude::PubsubInterface;
        let payload = serde_json::to_string(op).unwrap_or_default();
        // Boxed: a resume tells the previous pod only when it was another one.
        Box::pin(self.client.publish(channel_of(pod), payload)).await
    }

    pub(super) fn dispatch_control(self: &Arc<Self>, payload: &[u8]) {
        let Ok(op) = serde_json::from_slice::<ControlOp>(payload) else {
            tracing::warn!("malformed control message dropped");
            return;
        };
        let hub = self.clone();
        tokio::spawn(async move {
            match op {
                ControlOp::Subscribe {
                    connection_id,
                    channel,
                    live_only,
                } => {
                    let Some(channel) = Channel::parse(&channel) else {
                        return;
                    };
                    if let Err(error) = hub.subscribe(&connection_id, &channel, !live_only).await {
                        tracing::debug!(%error, "forwarded subscribe not applied");
                    }
                }
                ControlOp::Unsubscribe {
                    connection_id,
                    channel,
                } => {
                    if let Some(channel) = Channel::parse(&channel) {
                        let _ = hub.unsubscribe(&connection_id, &channel).await;
                    }
                }
                ControlOp::Superseded { connection_id } => {
                    if let Some(connection) = hub.connection(&connection_id) {
                        hub.detach(&connection);
                        connection.close_with(super::closing_frame(
                            "superseded",
                            "this stream continues on another connection",
                            hub.settings.retry,
                        ));
                    }
                }
            }
        });
    }
}
