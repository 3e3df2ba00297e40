//! Read-only views for `/sse/stats` (the original design's fields) and `/sse/channels`.

use progress_contract::Channel;
use progress_contract::ChannelKind;
use serde::Serialize;

use super::Hub;

/// `GET /api/v1/sse/stats`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub total_connections: usize,
    pub total_job_subscriptions: usize,
    pub total_queue_subscriptions: usize,
    pub total_worker_subscriptions: usize,
    pub pod: String,
    pub connections: Vec<ConnectionStat>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStat {
    pub connection_id: String,
    /// Epoch milliseconds.
    pub connected_at: u64,
    pub jobs: Vec<String>,
    pub queues: Vec<String>,
    pub workers: Vec<String>,
    /// Events waiting to be written to this client.
    pub queued_events: usize,
}

/// How many streams and subscriptions of each kind a pod holds: what it reports every few
/// seconds, counted without listing its streams.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub connections: usize,
    pub jobs: usize,
    pub queues: usize,
    pub workers: usize,
}

/// One entry of `GET /api/v1/sse/channels`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStat {
    pub channel: String,
    pub kind: &'static str,
    pub subscribers: usize,
}

impl Hub {
    pub fn counts(&self) -> Counts {
        self.table.with_streams(|connections| {
            let mut counts = Counts {
                connections: connections.len(),
                ..Counts::default()
            };
            for connection in connections.values() {
                connection.each_channel(|name| match ChannelKind::of_name(name) {
                    Some(ChannelKind::Job) => counts.jobs += 1,
                    Some(ChannelKind::Queue) => counts.queues += 1,
                    Some(ChannelKind::Worker) => counts.workers += 1,
                    None => {}
                });
            }
            counts
        })
    }

    pub fn stats(&self, pod: &str) -> Stats {
        let mut connections: Vec<ConnectionStat> = self
            .connections()
            .iter()
            .map(|connection| {
                let mut stat = ConnectionStat {
                    connection_id: connection.id().to_string(),
                    connected_at: connection.connected_at(),
                    jobs: Vec::new(),
                    queues: Vec::new(),
                    workers: Vec::new(),
                    queued_events: connection.queued(),
                };
                for name in connection.channels() {
                    if let Some(channel) = Channel::parse(&name) {
                        let list = match channel.kind() {
                            ChannelKind::Job => &mut stat.jobs,
                            ChannelKind::Queue => &mut stat.queues,
                            ChannelKind::Worker => &mut stat.workers,
                        };
                        list.push(channel.id().to_owned());
                    }
                }
                stat
            })
            .collect();
        connections.sort_by_key(|c| c.connected_at);
        Stats {
            total_connections: connections.len(),
            total_job_subscriptions: connections.iter().map(|c| c.jobs.len()).sum(),
            total_queue_subscriptions: connections.iter().map(|c| c.queues.len()).sum(),
            total_worker_subscriptions: connections.iter().map(|c| c.workers.len()).sum(),
            pod: pod.to_owned(),
            connections,
        }
    }

    pub fn channels(&self) -> Vec<ChannelStat> {
        let mut channels: Vec<ChannelStat> = self.table.with_routes(|routes| {
            routes
                .iter()
                .map(|(name, subscribers)| ChannelStat {
                    channel: name.to_string(),
                    kind: Channel::parse(name).map_or("other", |c| c.kind().as_str()),
                    subscribers: subscribers.len(),
                })
                .collect()
        });
        channels.sort_by(|a, b| a.channel.cmp(&b.channel));
        channels
    }
}
