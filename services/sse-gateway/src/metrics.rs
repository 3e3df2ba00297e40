//! Metric names of the gateway, in one place, with their descriptions. docs/operations.md
//! lists them; the dashboards and alerts in charts/resume-progress query them.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use progress_contract::ChannelKind;

pub const CONNECTIONS_OPEN: &str = "sse_connections_open";
pub const CONNECTIONS_OPENED: &str = "sse_connections_opened_total";
pub const CONNECTIONS_CLOSED: &str = "sse_connections_closed_total";
pub const EVENTS_DELIVERED: &str = "sse_events_delivered_total";
pub const EVENTS_DROPPED: &str = "sse_events_dropped_total";
pub const EVENTS_COALESCED: &str = "sse_events_coalesced_total";
pub const DELIVERY_LATENCY: &str = "sse_delivery_latency_seconds";
pub const REDIS_SUBSCRIPTIONS: &str = "sse_redis_subscriptions";
pub const REDIS_RECONNECTS: &str = "sse_redis_reconnects_total";
pub const SUBSCRIBE_REQUESTS: &str = "sse_subscribe_requests_total";
pub const EVENTS_REPLAYED: &str = "sse_events_replayed_total";
pub const FIRST_DELIVERIES: &str = "sse_first_deliveries_total";
pub const RESYNCS: &str = "sse_resyncs_total";
pub const RESUMES: &str = "sse_resumes_total";
pub const DRAINING: &str = "sse_draining";
pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const SOCKETS_CLOSED: &str = "http_sockets_closed_total";
pub const STREAM_OPENS_WAITING: &str = "sse_stream_opens_waiting";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";

/// Why events are dropped (`EVENTS_DROPPED`'s `reason`).
const DROP_REASONS: &[&str] = &[
    "slow_consumer",
    "malformed",
    "oversize",
    "lagged",
    "duplicate",
];
/// Why streams close (`CONNECTIONS_CLOSED`'s `reason`).
const CLOSE_REASONS: &[&str] = &["client", "server", "slow_consumer"];

/// Registers descriptions so `/metrics` explains every series, and creates the series whose
/// label values are known in advance at zero, so that rates and ratios over them exist
/// before the first drop, eviction or resume.
pub fn describe() {
    // Descriptions go to the recorder installed at the time: install it first.
    service_runtime::metrics::install();
    describe_gauge!(
        CONNECTIONS_OPEN,
        "SSE streams open on this pod (the autoscaling signal)."
    );
    describe_counter!(CONNECTIONS_OPENED, "SSE streams opened.");
    describe_gauge!(
        STREAM_OPENS_WAITING,
        "Stream requests waiting for their turn to be opened or resumed (at most 512 are at once)."
    );
    describe_counter!(CONNECTIONS_CLOSED, "SSE streams closed, by reason.");
    describe_counter!(
        EVENTS_DELIVERED,
        "Events handed to a stream's queue, by event name."
    );
    describe_counter!(EVENTS_DROPPED, "Events not delivered, by reason.");
    describe_counter!(
        EVENTS_COALESCED,
        "Intermediate job updates superseded in a lagging stream's queue by a newer update of the same job."
    );
    describe_histogram!(
        DELIVERY_LATENCY,
        Unit::Seconds,
        "Time from an event's publication (its history id, Redis clock) to its frame queued on this pod's streams, by event name."
    );
    describe_gauge!(
        REDIS_SUBSCRIPTIONS,
        "Redis pub/sub channels this pod is subscribed to."
    );
    describe_counter!(
        REDIS_RECONNECTS,
        "Reconnections of the Redis subscriber after a lost connection."
    );
    describe_counter!(
        SUBSCRIBE_REQUESTS,
        "Subscribe and unsubscribe requests, by result."
    );
    describe_counter!(
        EVENTS_REPLAYED,
        "Events replayed from history: missed by resuming streams, or sent to a new subscription before its live events."
    );
    describe_counter!(
        FIRST_DELIVERIES,
        "New subscriptions, by channel kind and what they were sent first: the job's history, a snapshot of its record, the queue's or worker's state, or nothing."
    );
    describe_counter!(
        RESYNCS,
        "Resumes that could not replay everything (gap older than history)."
    );
    describe_counter!(RESUMES, "Streams resumed with Last-Event-ID, by result.");
    describe_gauge!(DRAINING, "1 while this pod drains for shutdown.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by route, method and status.");
    describe_counter!(
        SOCKETS_CLOSED,
        "Sockets closed before they carried a request: the request head did not arrive in time (or a keep-alive connection idled that long), or too many sockets were waiting for theirs."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request duration to the response head, by route and status."
    );

    metrics::gauge!(CONNECTIONS_OPEN).increment(0.0);
    metrics::gauge!(REDIS_SUBSCRIPTIONS).increment(0.0);
    metrics::gauge!(DRAINING).increment(0.0);
    metrics::gauge!(STREAM_OPENS_WAITING).increment(0.0);
    for counter in [
        CONNECTIONS_OPENED,
        EVENTS_COALESCED,
        REDIS_RECONNECTS,
        EVENTS_REPLAYED,
        RESYNCS,
    ] {
        metrics::counter!(counter).increment(0);
    }
    for reason in CLOSE_REASONS {
        metrics::counter!(CONNECTIONS_CLOSED, "reason" => *reason).increment(0);
    }
    for reason in DROP_REASONS {
        metrics::counter!(EVENTS_DROPPED, "reason" => *reason).increment(0);
    }
    // Progress events relayed from the workers (`EVENTS_DELIVERED`'s `event`).
    for kind in ChannelKind::ALL {
        metrics::counter!(EVENTS_DELIVERED, "event" => kind.event_name()).increment(0);
    }
    for kind in ChannelKind::ALL {
        for source in ["history", "snapshot", "state", "none"] {
            metrics::counter!(FIRST_DELIVERIES, "kind" => kind.as_str(), "source" => source)
                .increment(0);
        }
    }
    for result in ["resumed", "expired"] {
        metrics::counter!(RESUMES, "result" => result).increment(0);
    }
}

/// The series every stream touches when it opens and closes, looked up once (as
/// [`DeliverySeries`]).
pub struct StreamSeries {
    pub open: metrics::Gauge,
    pub opened: metrics::Counter,
    pub closed_by_client: metrics::Counter,
    pub closed_by_server: metrics::Counter,
}

impl StreamSeries {
    /// Taken from the recorder installed at the time.
    pub fn from_recorder() -> Self {
        Self {
            open: metrics::gauge!(CONNECTIONS_OPEN),
            opened: metrics::counter!(CONNECTIONS_OPENED),
            closed_by_client: metrics::counter!(CONNECTIONS_CLOSED, "reason" => "client"),
            closed_by_server: metrics::counter!(CONNECTIONS_CLOSED, "reason" => "server"),
        }
    }
}

/// The delivery series of one kind of progress event (`EVENTS_DELIVERED` and
/// `DELIVERY_LATENCY` with its `event` label), looked up once: an event does not build a
/// label set and search the recorder's registry for each.
pub struct DeliverySeries {
    delivered: metrics::Counter,
    latency: metrics::Histogram,
}

impl DeliverySeries {
    /// The series of each [`ChannelKind`], in its order; taken from the recorder installed
    /// at the time.
    pub fn per_kind() -> [DeliverySeries; 3] {
        ChannelKind::ALL.map(|kind| {
            let event = kind.event_name();
            DeliverySeries {
                delivered: metrics::counter!(EVENTS_DELIVERED, "event" => event),
                latency: metrics::histogram!(DELIVERY_LATENCY, "event" => event),
            }
        })
    }

    /// `count` streams were given an event of this kind.
    pub fn delivered(&self, count: u64) {
        self.delivered.increment(count);
    }

    /// Records how long an event took from its publication (`published_ms`, the Redis time
    /// in its history id) to being queued on local streams. Clock differences between Redis
    /// and this pod can make it negative: it is then recorded as zero.
    pub fn record_latency(&self, published_ms: u64) {
        let now = progress_contract::time::now_millis();
        let seconds = now.saturating_sub(published_ms) as f64 / 1000.0;
        self.latency.record(seconds);
    }
}
