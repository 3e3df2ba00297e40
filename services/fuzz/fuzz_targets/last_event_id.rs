//! The `Last-Event-ID` parser: any text is either no resume point or one that prints back to
//! itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Some(point) = sse_gateway::resume::last_event_id::parse(input) {
        let printed = match point.event {
            Some(event) => format!("{}:{}:{event}", point.connection, point.seen),
            None => format!("{}:{}", point.connection, point.seen),
        };
        assert_eq!(sse_gateway::resume::last_event_id::parse(&printed), Some(point));
        assert!(input.trim().len() <= 128);
    }
});
