//! Output: a few human-readable lines, then one JSON line per run (the line starting with
//! `{"loadgen":`), which scripts pick up.

use std::io::Write;

use serde::Serialize;

/// What identifies a run in its JSON line.
#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub mode: &'static str,
    pub target: &'static str,
    pub label: String,
    pub run_id: String,
    pub server_pids: Vec<u32>,
    pub redis_pids: Vec<u32>,
}

/// The JSON line of a run: `{"loadgen":1, …run info…, …report…}`.
pub fn json_line(info: &RunInfo, report: &impl Serialize) -> anyhow::Result<String> {
    let mut object = serde_json::Map::new();
    for value in [serde_json::to_value(info)?, serde_json::to_value(report)?] {
        if let serde_json::Value::Object(fields) = value {
            object.extend(fields);
        }
    }
    let fields = serde_json::to_string(&serde_json::Value::Object(object))?;
    // The marker goes first whatever order the map keeps its keys in.
    Ok(format!(r#"{{"loadgen":1,{}"#, &fields[1..]))
}

/// Writes the human-readable lines and the JSON line to stdout.
pub fn emit(info: &RunInfo, human: &[String], report: &impl Serialize) -> anyhow::Result<()> {
    let line = json_line(info, report)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "[{} {}{}]",
        info.target,
        info.mode,
        label_suffix(&info.label)
    )?;
    for text in human {
        writeln!(out, "{text}")?;
    }
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn label_suffix(label: &str) -> String {
    if label.is_empty() {
        String::new()
    } else {
        format!(" {label}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flat_json_object() {
        #[derive(Serialize)]
        struct Figures {
            lost: u64,
        }
        let info = RunInfo {
            mode: "fanout",
            target: "gateway",
            label: "a".into(),
            run_id: "r1".into(),
            server_pids: vec![7],
            redis_pids: vec![],
        };
        let line = json_line(&info, &Figures { lost: 0 }).unwrap();
        assert!(line.starts_with(r#"{"loadgen":1,"#));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["mode"], "fanout");
        assert_eq!(value["lost"], 0);
        assert_eq!(value["server_pids"][0], 7);
    }
}
