//! The hot path: one Redis message becomes one frame, queued on every local subscriber.

use std::sync::Arc;

use progress_contract::channel::{BROADCAST_CHANNEL, CONNECTION_EVENTS_CHANNEL};
use progress_contract::incoming::Incoming;
use progress_contract::{ChannelKind, CustomEvent};
use uuid::Uuid;

use super::{Hub, Item, Push};
use crate::fanout::connection::{Connection, Tagged};
use crate::frame::{self, Rejected};
use crate::metrics as m;

impl Hub {
    /// Routes one message received on `channel`. Never fails: bad messages are dropped,
    /// logged and counted.
    pub fn dispatch(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        match channel {
            BROADCAST_CHANNEL => self.dispatch_custom(payload, true),
            CONNECTION_EVENTS_CHANNEL => self.dispatch_custom(payload, false),
            _ if crate::keys::is_control_channel(channel) => self.dispatch_control(payload),
            _ => self.dispatch_progress(channel, payload),
        }
    }

    /// `channel`'s name as its events share it (see [`crate::fanout::table::Routes`]); a new one when no
    /// stream here is subscribed.
    pub fn channel_name(&self, channel: &str) -> Arc<str> {
        self.table.channel_name(channel)
    }

    /// The frame for a progress event (live or replayed): the same bytes either way.
    pub fn progress_item(&self, channel: &Arc<str>, payload: &[u8]) -> Result<Item, Rejected> {
        let incoming = Incoming::parse(payload, self.settings.max_event_bytes)?;
        item_of(channel, &incoming)
    }

    /// Queues `item` on one stream: counts the updates coalescing superseded, and closes the
    /// stream when its queue is full.
    pub(crate) fn enqueue(&self, connection: &Connection, item: Item) -> Push {
        let push = connection.push(item, self.settings.capacity);
        match push {
            Push::Coalesced(superseded) => {
                metrics::counter!(m::EVENTS_COALESCED).increment(superseded as u64);
            }
            Push::Full => self.evict_slow(connection),
            Push::Queued | Push::Duplicate | Push::Closed => {}
        }
        push
    }

    fn dispatch_progress(&self, channel: &str, payload: &[u8]) {
        let Some((name, subscribers)) = self.table.subscribers(channel) else {
            return;
        };
        // The message is read once, here: validity, history id, job status and trace.
        let item = Incoming::parse(payload, self.settings.max_event_bytes)
            .map_err(Rejected::from)
            .and_then(|incoming| Ok((item_of(&name, &incoming)?, incoming.traceparent)));
        let (item, traceparent) = match item {
            Ok(item) => item,
            Err(rejected) => return drop_message(channel, rejected, payload.len()),
        };
        // A channel of no known kind was rejected just above.
        let Some(kind) = ChannelKind::of_name(channel) else {
            return;
        };
        // An event that carries a `traceparent` (a worker's job update) is delivered inside a
        // span continuing that trace, so the trace of a job runs from the request that added
        // it to the streams it was written to.
        match traceparent {
            None => self.deliver(kind, &item, subscribers),
            Some(traceparent) => {
                let span = tracing::info_span!(
                    "deliver",
                    otel.name = "deliver job_update",
                    otel.kind = "consumer",
                    messaging.destination.name = channel,
                );
                service_runtime::telemetry::continue_trace(&span, Some(traceparent));
                span.in_scope(|| self.deliver(kind, &item, subscribers));
            }
        }
    }

    /// Queues one progress event on its channel's local subscribers, and counts it.
    fn deliver(&self, kind: ChannelKind, item: &Item, subscribers: Vec<Arc<Connection>>) {
        let mut delivered = 0u64;
        for connection in subscribers {
            match self.enqueue(&connection, item.clone()) {
                Push::Queued | Push::Coalesced(_) => delivered += 1,
                Push::Full => {
                    metrics::counter!(m::EVENTS_DROPPED, "reason" => "slow_consumer").increment(1);
                }
                Push::Duplicate => {
                    metrics::counter!(m::EVENTS_DROPPED, "reason" => "duplicate").increment(1);
                }
                Push::Closed => {}
            }
        }
        let series = self.delivery_series(kind);
        series.delivered(delivered);
        if let (true, Some(tagged)) = (delivered > 0, &item.history) {
            series.record_latency(tagged.id.ms);
        }
    }

    fn delivery_series(&self, kind: ChannelKind) -> &m::DeliverySeries {
        let series = self
            .delivery_series
            .get_or_init(m::DeliverySeries::per_kind);
        match kind {
            ChannelKind::Job => &series[0],
            ChannelKind::Queue => &series[1],
            ChannelKind::Worker => &series[2],
        }
    }

    fn dispatch_custom(&self, payload: &[u8], broadcast: bool) {
        if payload.len() > self.settings.max_event_bytes {
            return drop_message("custom", Rejected::Oversize, payload.len());
        }
        let Ok(custom) = serde_json::from_slice::<CustomEvent>(payload) else {
            return drop_message("custom", Rejected::Malformed, payload.len());
        };
        if !progress_contract::events::is_valid_custom_event_name(&custom.event) {
            return drop_message("custom", Rejected::Malformed, payload.len());
        }
        let data = serde_json::to_vec(&custom.data).unwrap_or_default();
        let frame = frame::event_frame(&custom.event, None, &data);
        let targets: Vec<_> = if broadcast {
            self.table.all()
        } else {
            let Some(id) = custom
                .connection_id
                .as_deref()
                .and_then(|id| Uuid::parse_str(id).ok())
            else {
                return drop_message("custom", Rejected::Malformed, payload.len());
            };
            // Every pod receives it; only the one holding the stream delivers.
            self.connection(&id).into_iter().collect()
        };
        let mut delivered = 0u64;
        for connection in targets {
            match self.enqueue(&connection, Item::plain(frame.clone())) {
                Push::Queued | Push::Coalesced(_) => delivered += 1,
                Push::Full | Push::Duplicate | Push::Closed => {}
            }
        }
        let label = if broadcast { "broadcast" } else { "custom" };
        metrics::counter!(m::EVENTS_DELIVERED, "event" => label).increment(delivered);
    }
}

/// The frame of a parsed progress event of `channel`.
fn item_of(channel: &Arc<str>, incoming: &Incoming<'_>) -> Result<Item, Rejected> {
    let kind = ChannelKind::of_name(channel).ok_or(Rejected::Malformed)?;
    let id = incoming.event_id;
    let is_job = kind == ChannelKind::Job;
    let name: Option<Arc<str>> = (id.is_some() || is_job).then(|| channel.clone());
    Ok(Item {
        body: frame::event_frame(kind.event_name(), None, &incoming.json),
        history: id
            .zip(name.clone())
            .map(|(id, channel)| Tagged { channel, id }),
        channel: name,
        coalescable: is_job && incoming.is_intermediate(),
    })
}

fn drop_message(channel: &str, rejected: Rejected, size: usize) {
    metrics::counter!(m::EVENTS_DROPPED, "reason" => rejected.as_str()).increment(1);
    tracing::warn!(
        channel,
        size,
        reason = rejected.as_str(),
        "dropped a published message"
    );
}
