//! The `Last-Event-ID` a reconnecting EventSource sends (or `?lastEventId=`): the SSE `id:`
//! of the last event it received, `{connectionId}:{n}`. Anything else — including the ids of
//! other systems and garbage — means "no resume point", never an error.

use uuid::Uuid;

/// Longest value considered (a UUID, a colon and a `u64` are 57 bytes).
const MAX_LEN: usize = 128;

/// `{connectionId}:{n}` → (connection, number of the last event received).
pub fn parse(text: &str) -> Option<(Uuid, u64)> {
    let text = text.trim();
    if text.len() > MAX_LEN {
        return None;
    }
    let (id, seq) = text.rsplit_once(':')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Uuid::parse_str(id).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gateway_ids_only() {
        let id = Uuid::new_v4();
        assert_eq!(parse(&format!("{id}:42")), Some((id, 42)));
        assert_eq!(parse(&format!(" {id}:0 ")), Some((id, 0)));
        for bad in [
            String::new(),
            "42".into(),
            format!("{id}"),
            format!("{id}:"),
            format!("{id}:-1"),
            format!("{id}:+1"),
            format!("{id}:1:2"),
            format!("{id}:99999999999999999999999"),
            format!("x{id}:1"),
            "1700000000000-0".into(),
            format!("{id}:{}", "1".repeat(200)),
        ] {
            assert_eq!(parse(&bad), None, "{bad:?}");
        }
    }
}
