//! Metric names of the gateway, in one place, with their descriptions.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub const CONNECTIONS_OPEN: &str = "sse_connections_open";
pub const CONNECTIONS_OPENED: &str = "sse_connections_opened_total";
pub const CONNECTIONS_CLOSED: &str = "sse_connections_closed_total";
pub const EVENTS_DELIVERED: &str = "sse_events_delivered_total";
pub const EVENTS_DROPPED: &str = "sse_events_dropped_total";
pub const EVENTS_COALESCED: &str = "sse_events_coalesced_total";
pub const REDIS_SUBSCRIPTIONS: &str = "sse_redis_subscriptions";
pub const REDIS_RECONNECTS: &str = "sse_redis_reconnects_total";
pub const SUBSCRIBE_REQUESTS: &str = "sse_subscribe_requests_total";
pub const EVENTS_REPLAYED: &str = "sse_events_replayed_total";
pub const RESYNCS: &str = "sse_resyncs_total";
pub const RESUMES: &str = "sse_resumes_total";
pub const DRAINING: &str = "sse_draining";
pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";

/// Registers descriptions so `/metrics` explains every series.
pub fn describe() {
    describe_gauge!(
        CONNECTIONS_OPEN,
        "SSE streams open on this pod (the autoscaling signal)."
    );
    describe_counter!(CONNECTIONS_OPENED, "SSE streams opened.");
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
    describe_gauge!(
        REDIS_SUBSCRIPTIONS,
        "Redis pub/sub channels this pod is subscribed to."
    );
    describe_counter!(REDIS_RECONNECTS, "Reconnections of the Redis subscriber.");
    describe_counter!(
        SUBSCRIBE_REQUESTS,
        "Subscribe and unsubscribe requests, by result."
    );
    describe_counter!(
        EVENTS_REPLAYED,
        "Missed events replayed to resuming streams."
    );
    describe_counter!(
        RESYNCS,
        "Resumes that could not replay everything (gap older than history)."
    );
    describe_counter!(RESUMES, "Streams resumed with Last-Event-ID, by result.");
    describe_gauge!(DRAINING, "1 while this pod drains for shutdown.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by route, method and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request duration to the response head."
    );
}
