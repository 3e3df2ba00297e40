//! Parsing `XREADGROUP` and `XAUTOCLAIM` replies into (entry id, job id) pairs.

use fred::types::Value;

/// One stream entry naming a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub entry_id: String,
    /// `None` when the entry carries no `jobId` field (it is acknowledged and dropped).
    pub job_id: Option<String>,
}

fn entry(value: &Value) -> Option<Entry> {
    let Value::Array(parts) = value else {
        return None;
    };
    let entry_id = parts.first()?.as_string()?;
    let job_id = match parts.get(1) {
        Some(Value::Array(fields)) => fields
            .chunks(2)
            .find(|pair| pair.first().and_then(Value::as_string).as_deref() == Some("jobId"))
            .and_then(|pair| pair.get(1)?.as_string()),
        _ => None,
    };
    Some(Entry { entry_id, job_id })
}

fn entries(value: &Value) -> Vec<Entry> {
    match value {
        Value::Array(items) => items.iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

/// `XREADGROUP … STREAMS key >`: `[[key, [entry…]]]`, or nil on timeout. RESP3 servers
/// answer a map `{key: [entry…]}`.
pub fn read_group(value: &Value) -> Vec<Entry> {
    match value {
        Value::Array(streams) => streams
            .iter()
            .flat_map(|stream| match stream {
                Value::Array(pair) if pair.len() == 2 => entries(&pair[1]),
                _ => Vec::new(),
            })
            .collect(),
        Value::Map(map) => map.clone().inner().values().flat_map(entries).collect(),
        _ => Vec::new(),
    }
}

/// `XAUTOCLAIM`: `[next-id, [entry…], [deleted-id…]]`.
pub fn auto_claim(value: &Value) -> (String, Vec<Entry>) {
    match value {
        Value::Array(parts) if parts.len() >= 2 => (
            parts[0].as_string().unwrap_or_else(|| "0-0".into()),
            entries(&parts[1]),
        ),
        _ => ("0-0".into(), Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn parses_read_group() {
        let reply = Value::Array(vec![Value::Array(vec![
            s("rq:{q}:stream"),
            Value::Array(vec![
                Value::Array(vec![s("1-0"), Value::Array(vec![s("jobId"), s("a")])]),
                Value::Array(vec![s("2-0"), Value::Array(vec![s("other"), s("x")])]),
            ]),
        ])]);
        assert_eq!(
            read_group(&reply),
            vec![
                Entry {
                    entry_id: "1-0".into(),
                    job_id: Some("a".into())
                },
                Entry {
                    entry_id: "2-0".into(),
                    job_id: None
                },
            ]
        );
        assert!(read_group(&Value::Null).is_empty());
    }

    #[test]
    fn parses_auto_claim() {
        let reply = Value::Array(vec![
            s("0-0"),
            Value::Array(vec![Value::Array(vec![
                s("5-1"),
                Value::Array(vec![s("jobId"), s("b")]),
            ])]),
            Value::Array(vec![]),
        ]);
        let (next, got) = auto_claim(&reply);
        assert_eq!(next, "0-0");
        assert_eq!(got[0].job_id.as_deref(), Some("b"));
    }
}
