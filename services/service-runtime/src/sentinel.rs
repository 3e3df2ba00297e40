//! Following a Sentinel failover at once. Sentinel promotes a replica first and demotes the
//! old primary only when it next looks at it, which can take seconds; until then the old
//! primary still accepts writes that the promotion has already made worthless. This watcher
//! asks the sentinels every second which server is primary and forces every client that is
//! still connected elsewhere to reconnect (through the sentinels, to the new primary).

use std::time::Duration;

use fred::prelude::{Client, ClientLike, Config};
use fred::types::config::ServerConfig;
use fred::types::{ClusterHash, CustomCommand, Value};
use tokio_util::sync::CancellationToken;

/// Starts the watcher when `url` names a Sentinel deployment; does nothing otherwise.
pub fn watch(url: &str, clients: Vec<Client>, shutdown: CancellationToken) {
    let Ok(config) = Config::from_url(url) else {
        return;
    };
    let ServerConfig::Sentinel {
        hosts,
        service_name,
        ..
    } = config.server
    else {
        return;
    };
    tokio::spawn(async move {
        let mut sentinels = Vec::new();
        for host in &hosts {
            let Ok(config) = Config::from_url(&format!("redis://{}:{}", host.host, host.port))
            else {
                continue;
            };
            let Ok(sentinel) = fred::prelude::Builder::from_config(config)
                .with_performance_config(|perf| {
                    perf.default_command_timeout = Duration::from_secs(1);
                })
                .build()
            else {
                continue;
            };
            // Connects in the background; a sentinel that is down is simply skipped.
            drop(sentinel.connect());
            sentinels.push(sentinel);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(primary) = current_primary(&sentinels, &service_name).await else {
                continue;
            };
            for client in &clients {
                let elsewhere = client
                    .active_connections()
                    .iter()
                    .any(|server| server.port != primary.1 || *server.host != *primary.0);
                if elsewhere {
                    tracing::warn!(
                        primary = %format!("{}:{}", primary.0, primary.1),
                        "Sentinel names a new primary; reconnecting"
                    );
                    let _ = client.force_reconnection().await;
                }
            }
        }
    });
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME` from the first sentinel that answers.
async fn current_primary(sentinels: &[Client], service: &str) -> Option<(String, u16)> {
    for sentinel in sentinels {
        let command = CustomCommand::new_static("SENTINEL", ClusterHash::FirstKey, false);
        let reply: Result<Value, _> = sentinel
            .custom(command, vec!["GET-MASTER-ADDR-BY-NAME", service])
            .await;
        if let Ok(Value::Array(items)) = reply
            && let [host, port] = items.as_slice()
            && let (Some(host), Some(port)) = (host.as_string(), port.as_string())
            && let Ok(port) = port.parse()
        {
            return Some((host, port));
        }
    }
    None
}
