//! Real multi-process Redis topologies for tests: a Redis Cluster (primaries with replicas,
//! made by `redis-cli --cluster create`) and a Sentinel-managed primary/replica pair.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::{RedisServer, free_port};

/// A Redis Cluster of `primaries` × (1 + `replicas`) redis-server processes on free ports.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, creates the cluster and waits until every node reports it healthy.
    pub fn start(primaries: usize, replicas: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..primaries * (1 + replicas))
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-replica-validity-factor",
                    "0",
                    "--cluster-require-full-coverage",
                    "no",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("running redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_healthy(primaries, Duration::from_secs(30));
        cluster
    }

    /// `redis-cluster://` URL naming every node.
    pub fn url(&self) -> String {
        let mut ports = self.nodes.iter().map(RedisServer::port);
        let first = ports.next().unwrap_or_default();
        let rest: Vec<String> = ports.map(|p| format!("node=127.0.0.1:{p}")).collect();
        format!("redis-cluster://127.0.0.1:{first}?{}", rest.join("&"))
    }

    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The node on `port`.
    pub fn node(&self, port: u16) -> &RedisServer {
        self.nodes
            .iter()
            .find(|n| n.port() == port)
            .expect("no node on that port")
    }

    /// Ports of the live primaries that own slots, as the cluster sees them now.
    pub fn primaries(&self) -> Vec<u16> {
        let alive = self.nodes.iter().find(|n| n.cli(&["PING"]) == "PONG");
        let Some(alive) = alive else {
            return Vec::new();
        };
        let mut ports: Vec<u16> = alive
            .cli(&["CLUSTER", "NODES"])
            .lines()
            .filter(|line| {
                let flags = line.split(' ').nth(2).unwrap_or_default();
                flags.contains("master") && !flags.contains("fail") && line.split(' ').count() > 8
            })
            .filter_map(|line| {
                let address = line.split(' ').nth(1)?;
                address.split(['@', ':']).nth(1)?.parse().ok()
            })
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The primary that owns `channel`'s (or key's) slot.
    pub fn primary_of(&self, name: &str) -> u16 {
        let slot: u16 = self.nodes[0]
            .cli(&["CLUSTER", "KEYSLOT", name])
            .parse()
            .expect("CLUSTER KEYSLOT");
        let alive = self
            .nodes
            .iter()
            .find(|n| n.cli(&["PING"]) == "PONG")
            .expect("a live node");
        for line in alive.cli(&["CLUSTER", "NODES"]).lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            for range in &fields[8..] {
                let (low, high) = match range.split_once('-') {
                    Some((low, high)) => (low.parse().ok(), high.parse().ok()),
                    None => (range.parse().ok(), range.parse().ok()),
                };
                if let (Some(low), Some(high)) = (low, high)
                    && (low..=high).contains(&slot)
                {
                    let address = fields[1];
                    return address
                        .split(['@', ':'])
                        .nth(1)
                        .and_then(|p| p.parse().ok())
                        .expect("node address");
                }
            }
        }
        panic!("no primary owns slot {slot}");
    }

    /// The cluster node id of the node on `port`.
    pub fn node_id(&self, port: u16) -> String {
        self.node(port).cli(&["CLUSTER", "MYID"])
    }

    /// Moves one slot, with its keys, from the primary on `from` to the primary on `to`
    /// (the online migration `redis-cli --cluster reshard` performs, for one chosen slot).
    pub fn migrate_slot(&self, slot: u16, from: u16, to: u16) {
        let slot = slot.to_string();
        let (source, target) = (self.node(from), self.node(to));
        let (source_id, target_id) = (self.node_id(from), self.node_id(to));
        assert_eq!(
            target.cli(&["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id]),
            "OK"
        );
        assert_eq!(
            source.cli(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id]),
            "OK"
        );
        loop {
            let keys = source.cli(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"]);
            let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let port = to.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            assert_eq!(source.cli(&args), "OK", "MIGRATE");
        }
        for node in &self.nodes {
            if node.cli(&["PING"]) == "PONG" {
                node.cli(&["CLUSTER", "SETSLOT", &slot, "NODE", &target_id]);
            }
        }
    }

    /// SIGKILLs the node on `port`.
    pub fn kill(&mut self, port: u16) {
        if let Some(node) = self.nodes.iter_mut().find(|n| n.port() == port) {
            node.kill();
        }
    }

    /// Waits until the killed primary on `port` has been replaced by a promoted replica and
    /// the cluster is healthy again.
    pub fn wait_failed_over(&self, port: u16, primaries: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.primaries().contains(&port) {
            assert!(
                Instant::now() < deadline,
                "no replica took over from {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.wait_healthy(
            primaries,
            deadline.saturating_duration_since(Instant::now()),
        );
    }

    /// Waits until `primaries` primaries serve every slot and `cluster_state:ok` is reported
    /// by every live node.
    pub fn wait_healthy(&self, primaries: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let live: Vec<&RedisServer> = self
                .nodes
                .iter()
                .filter(|n| n.cli(&["PING"]) == "PONG")
                .collect();
            let ok = live
                .iter()
                .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if ok && self.primaries().len() == primaries {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One primary, one replica and three sentinels watching them as `mymaster`.
pub struct RedisSentinel {
    pub primary: RedisServer,
    pub replica: RedisServer,
    sentinels: Vec<RedisServer>,
}

impl RedisSentinel {
    pub const SERVICE: &'static str = "mymaster";

    pub fn start() -> Self {
        let primary = RedisServer::start();
        let primary_port = primary.port().to_string();
        let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary_port]);
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let dir = std::env::temp_dir()
                    .join(format!("redis-sentinel-{}-{port}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("sentinel dir");
                let config = dir.join("sentinel.conf");
                std::fs::write(
                    &config,
                    format!(
                        "port {port}\nbind 127.0.0.1\n\
                         sentinel monitor {name} 127.0.0.1 {primary_port} 2\n\
                         sentinel down-after-milliseconds {name} 1000\n\
                         sentinel failover-timeout {name} 5000\n\
                         sentinel parallel-syncs {name} 1\n",
                        name = Self::SERVICE
                    ),
                )
                .expect("writing sentinel.conf");
                RedisServer::start_sentinel(port, dir, config)
            })
            .collect();
        let sentinel = Self {
            primary,
            replica,
            sentinels,
        };
        sentinel.wait_replicated(Duration::from_secs(20));
        sentinel
    }

    /// `redis-sentinel://` URL naming the three sentinels.
    pub fn url(&self) -> String {
        let mut ports = self.sentinels.iter().map(RedisServer::port);
        let first = ports.next().unwrap_or_default();
        let rest: Vec<String> = ports.map(|p| format!("&node=127.0.0.1:{p}")).collect();
        format!(
            "redis-sentinel://127.0.0.1:{first}/0?sentinelServiceName={}{}",
            Self::SERVICE,
            rest.concat()
        )
    }

    /// The port the sentinels name as primary now.
    pub fn current_primary(&self) -> u16 {
        let reply = self.sentinels[0].cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::SERVICE]);
        reply
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_default()
    }

    /// Asks a sentinel to fail over, and waits until the replica is primary.
    pub fn failover(&self, limit: Duration) {
        let before = self.current_primary();
        let deadline = Instant::now() + limit;
        loop {
            let reply = self.sentinels[0].cli(&["SENTINEL", "FAILOVER", Self::SERVICE]);
            if reply == "OK" || reply.contains("INPROG") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "SENTINEL FAILOVER refused: {reply}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        while self.current_primary() == before
            || self
                .replica
                .cli(&["ROLE"])
                .lines()
                .next()
                .is_none_or(|r| r != "master")
        {
            assert!(Instant::now() < deadline, "the failover did not complete");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the replica is in sync and every sentinel knows both servers.
    fn wait_replicated(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let synced = self
                .replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up");
            let known = self.sentinels.iter().all(|s| {
                s.cli(&["SENTINEL", "REPLICAS", Self::SERVICE])
                    .contains(&self.replica.port().to_string())
            });
            if synced && known {
                return;
            }
            assert!(Instant::now() < deadline, "sentinel set-up did not settle");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
