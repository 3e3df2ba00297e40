//! What the measured processes spend, from `/proc`: CPU seconds (utime + stime), resident
//! memory (`VmRSS`) and proportional memory (`Pss`, which shares pages fairly between the
//! processes that map them, such as nginx workers), and which processes listen on a port.

use std::collections::BTreeSet;

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_cpu_seconds(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))
}

fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// A `kB` line of a `/proc` file, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `VmRSS` of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    kib_field(&status, "VmRSS").with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// `Pss` of `pid`, in KiB.
pub fn pss_kib(pid: u32) -> anyhow::Result<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("reading /proc/{pid}/smaps_rollup"))?;
    kib_field(&rollup, "Pss").with_context(|| format!("no Pss in /proc/{pid}/smaps_rollup"))
}

/// CPU and memory of a group of processes (a server's, or Redis').
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub rss_kib: u64,
    pub pss_kib: u64,
}

impl Usage {
    /// Summed over `pids`; processes that are gone count nothing.
    pub fn of(pids: &[u32]) -> Self {
        let mut usage = Usage::default();
        for pid in pids {
            usage.cpu_seconds += cpu_seconds(*pid).unwrap_or(0.0);
            usage.rss_kib += rss_kib(*pid).unwrap_or(0);
            usage.pss_kib += pss_kib(*pid).unwrap_or(0);
        }
        usage
    }

    /// What was spent (CPU) or grown (memory) since `before`.
    pub fn since(&self, before: &Usage) -> Delta {
        Delta {
            cpu_seconds: self.cpu_seconds - before.cpu_seconds,
            rss_kib: self.rss_kib as i64 - before.rss_kib as i64,
            pss_kib: self.pss_kib as i64 - before.pss_kib as i64,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Delta {
    pub cpu_seconds: f64,
    pub rss_kib: i64,
    pub pss_kib: i64,
}

/// Socket inodes listening on TCP `port`, from a `/proc/net/tcp[6]` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let state = fields.get(3)?;
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            (*state == "0A" && local_port == port)
                .then(|| fields.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The processes holding a socket that listens on TCP `port` (for nginx: the master and
/// every worker).
pub fn listeners(port: u16) -> anyhow::Result<Vec<u32>> {
    let mut inodes = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    anyhow::ensure!(!inodes.is_empty(), "nothing listens on port {port}");
    let wanted: BTreeSet<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .context("listing /proc")?
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| wanted.contains(target.to_string_lossy().as_ref()))
        });
        if holds {
            pids.push(pid);
        }
    }
    anyhow::ensure!(
        !pids.is_empty(),
        "no process visible to this user holds the socket listening on port {port}; pass its pid"
    );
    pids.sort_unstable();
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_from_stat_lines() {
        let stat = "4242 (sse (gate) way) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_cpu_seconds(stat), Some(3.25));
        assert_eq!(parse_cpu_seconds("garbage"), None);
    }

    #[test]
    fn finds_listening_sockets() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0\n\
            1: 0100007F:1F40 0200007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1\n\
            2: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0";
        assert_eq!(listening_inodes(table, 8000), [111]);
        assert_eq!(listening_inodes(table, 8001), [333]);
        assert!(listening_inodes(table, 9).is_empty());
    }

    #[test]
    fn measures_this_process() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listeners(port).unwrap(), [me]);
    }
}
