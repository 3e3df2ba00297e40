//! Settings shared by every service, and the duration syntax used by all `*_INTERVAL`,
//! `*_TIMEOUT` and `*_DELAY` variables.

use std::time::Duration;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for clusters and log shippers).
    Json,
    /// Human-readable, coloured lines (for a terminal).
    Pretty,
}

/// Which pub/sub commands carry job, queue and worker events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PubsubMode {
    /// Sharded on a Redis Cluster, classic otherwise.
    Auto,
    /// `SPUBLISH`/`SSUBSCRIBE`: each channel lives on its slot's shard (Redis 7+).
    Sharded,
    /// `PUBLISH`/`SUBSCRIBE`: what plain publishers (such as the original Node worker) use.
    Classic,
}

/// Redis settings common to both services.
#[derive(Clone, Debug, clap::Args)]
pub struct RedisArgs {
    /// Redis connection URL (`redis://`, `rediss://`, `redis-cluster://`, `redis-sentinel://`).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Upper bound for one Redis command, including time spent waiting for a reconnect.
    #[arg(long, env = "REDIS_COMMAND_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub redis_command_timeout: Duration,
    /// Pub/sub for job, queue and worker channels; every gateway and worker must agree.
    #[arg(long, env = "PUBSUB_MODE", value_enum, default_value = "auto")]
    pub pubsub_mode: PubsubMode,
}

/// Parses `250ms`, `5s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 5s, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a valid duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
