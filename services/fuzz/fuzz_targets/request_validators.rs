//! The request validators: the `queue/add` body, channel names, custom event names and
//! where a token is read from. None may panic; whatever they accept is usable as it is.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use progress_contract::{Channel, ChannelKind};
use sse_gateway::auth::token;
use sse_gateway::routes::jobs::validate::add_request;

fuzz_target!(|input: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(input)
        && let Ok(request) = add_request(&body)
    {
        assert!(progress_contract::channel::is_valid_name(
            &request.queue_name
        ));
        assert!(progress_contract::channel::is_valid_name(
            &request.data.resume_id
        ));
        if let Some(id) = &request.options.job_id {
            assert!(
                Channel::job(id).is_ok(),
                "an accepted job id names a channel"
            );
        }
    }
    let text = String::from_utf8_lossy(input);
    for kind in ChannelKind::ALL {
        if let Ok(channel) = Channel::new(kind, &text) {
            let name = channel.redis_name();
            assert!(!name.contains(['\r', '\n', ' ', '/', '{', '}']));
            assert_eq!(Channel::parse(&name), Some(channel));
        }
    }
    if progress_contract::events::is_valid_custom_event_name(&text) {
        assert!(!text.contains(['\r', '\n']));
    }
    // A header section and a query string from the input.
    let (head, query) = text.split_once('?').unwrap_or((&text, ""));
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    if let Ok(found) = token::find(&headers, Some(query), "access_token") {
        assert!(!found.is_empty() && found.len() <= token::MAX_TOKEN_BYTES);
    }
});
