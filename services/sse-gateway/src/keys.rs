//! Every Redis name the gateway itself owns, in one place (channel history keys belong to
//! the contract: `progress_contract::history::history_key`). Keys of one stream's session
//! share the connection id as hash tag, so both live on one Redis Cluster slot.

use uuid::Uuid;

/// The prefix of every pod's control channel.
const CONTROL_PREFIX: &str = "sse:pod:";

/// Pod `pod`'s control channel: other pods send it requests for streams held there.
pub fn control_channel(pod: &str) -> String {
    format!("{CONTROL_PREFIX}{pod}")
}

/// Whether `channel` is a pod's control channel.
pub fn is_control_channel(channel: &str) -> bool {
    channel.starts_with(CONTROL_PREFIX)
}

/// The sorted set of live pods (cluster-wide counts).
pub const PODS: &str = "sse:pods";

/// A stream's session hash (owner, subject, position, resume points).
pub fn session(id: &Uuid) -> String {
    format!("sse:sess:{{{id}}}")
}

/// A stream's session channel set.
pub fn session_channels(id: &Uuid) -> String {
    format!("sse:sess:{{{id}}}:ch")
}

/// The organisation that claimed job id `job_id` before the job existed.
pub fn job_claim(job_id: &str) -> String {
    format!("sse:job-org:{{{job_id}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_keys_share_one_slot_and_control_channels_are_recognised() {
        let id = Uuid::nil();
        assert_eq!(
            fred::util::redis_keyslot(session(&id).as_bytes()),
            fred::util::redis_keyslot(session_channels(&id).as_bytes())
        );
        assert!(is_control_channel(&control_channel("pod-1")));
        assert!(!is_control_channel("job:sse:pod:x"));
    }
}
