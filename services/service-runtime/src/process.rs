//! The standard `process_*` metrics (CPU, memory, file descriptors, start time), read from
//! `/proc/self` at scrape time and written in the exposition format, under the names every
//! Prometheus client library uses, so stock dashboards and alerts work on our pods.
//!
//! They are rendered here rather than through the `metrics` recorder because CPU time is a
//! fractional counter, which that API cannot express. On systems without `/proc` nothing is
//! written.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Linux reports process times in USER_HZ ticks, which is 100 on every architecture it
/// exposes to user space through /proc.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of this process's resources.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time of every thread, in seconds.
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub virtual_memory_bytes: u64,
    pub open_fds: u64,
    /// The soft `RLIMIT_NOFILE`; `None` when unlimited.
    pub max_fds: Option<u64>,
    /// Seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads `/proc/self`.
    pub fn read() -> io::Result<Self> {
        let proc = Path::new("/proc");
        let stat = StatFields::parse(&std::fs::read_to_string(proc.join("self/stat"))?)?;
        let status = std::fs::read_to_string(proc.join("self/status"))?;
        let boot_time = boot_time(&std::fs::read_to_string(proc.join("stat"))?)?;
        Ok(Self {
            cpu_seconds: (stat.utime + stat.stime) as f64 / TICKS_PER_SECOND,
            resident_memory_bytes: status_kib(&status, "VmRSS")? * 1024,
            virtual_memory_bytes: status_kib(&status, "VmSize")? * 1024,
            open_fds: std::fs::read_dir(proc.join("self/fd"))?.count() as u64,
            max_fds: max_open_files(&std::fs::read_to_string(proc.join("self/limits"))?)?,
            start_time_seconds: boot_time as f64 + stat.starttime as f64 / TICKS_PER_SECOND,
        })
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn std::fmt::Display| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
            );
        };
        family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            &self.cpu_seconds,
        );
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            &self.resident_memory_bytes,
        );
        family(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            &self.virtual_memory_bytes,
        );
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            &self.open_fds,
        );
        if let Some(max) = self.max_fds {
            family(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                &max,
            );
        }
        family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            &self.start_time_seconds,
        );
    }
}

/// Appends the process metrics to `out`, or nothing where `/proc` cannot be read.
pub fn render(out: &mut String) {
    match ProcessStats::read() {
        Ok(stats) => stats.render(out),
        Err(error) => tracing::debug!(%error, "process metrics unavailable"),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected {what}"))
}

/// The fields of `/proc/self/stat` we use (times in ticks).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    utime: u64,
    stime: u64,
    starttime: u64,
}

impl StatFields {
    /// `pid (comm) state ppid …`: the command name may hold spaces and parentheses, so the
    /// fields are counted from the last `)`; field N (1-based, as in proc(5)) is then at
    /// index N - 3.
    fn parse(text: &str) -> io::Result<Self> {
        let rest = &text[text.rfind(')').ok_or_else(|| invalid("/proc/self/stat"))? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> io::Result<u64> {
            fields
                .get(n - 3)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| invalid("/proc/self/stat"))
        };
        Ok(Self {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
        })
    }
}

/// A `Name:   123 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, name: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| invalid(name))
}

/// `btime` of `/proc/stat`: boot time in seconds since the epoch.
fn boot_time(stat: &str) -> io::Result<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
        .ok_or_else(|| invalid("/proc/stat"))
}

/// The soft limit of the `Max open files` line of `/proc/self/limits`.
fn max_open_files(limits: &str) -> io::Result<Option<u64>> {
    let soft = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(|| invalid("/proc/self/limits"))?;
    match soft {
        "unlimited" => Ok(None),
        number => number
            .parse()
            .map(Some)
            .map_err(|_| invalid("/proc/self/limits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_tricky_command_name() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 75 0 0 20 0 8 0 123456 52428800 3000 18446744073709551615";
        assert_eq!(
            StatFields::parse(line).unwrap(),
            StatFields {
                utime: 250,
                stime: 75,
                starttime: 123_456
            }
        );
        assert!(StatFields::parse("4242 (x) S 1").is_err());
    }

    #[test]
    fn parses_status_stat_and_limits_lines() {
        let status = "Name:\tsse-gateway\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(status_kib(status, "VmRSS").unwrap(), 2048);
        assert_eq!(status_kib(status, "VmSize").unwrap(), 123_456);
        assert!(status_kib(status, "VmSwap").is_err());
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1700000000\n").unwrap(),
            1_700_000_000
        );
        let limits = "Limit Soft Limit Hard Limit Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits).unwrap(), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited).unwrap(), None);
    }

    /// Against the real /proc of this test process: the values move the way the resources do.
    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_from_proc() {
        let before = ProcessStats::read().unwrap();
        let files: Vec<std::fs::File> = (0..8)
            .map(|_| std::fs::File::open("/proc/self/status").unwrap())
            .collect();
        // Burn some CPU so the counter has something to count.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = ProcessStats::read().unwrap();
        assert!(
            after.open_fds >= before.open_fds + 8,
            "{before:?} -> {after:?}"
        );
        drop(files);
        assert!(after.cpu_seconds >= before.cpu_seconds);
        assert!(after.cpu_seconds > 0.0);
        assert!(after.resident_memory_bytes > 1024 * 1024);
        assert!(after.virtual_memory_bytes >= after.resident_memory_bytes);
        if let Some(max) = after.max_fds {
            assert!(max >= after.open_fds);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // This test process started moments ago (allow for clock steps and ticks).
        assert!(
            after.start_time_seconds <= now + 1.0 && after.start_time_seconds > now - 3600.0,
            "start {} now {now}",
            after.start_time_seconds
        );
        let mut text = String::new();
        after.render(&mut text);
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(&format!("\n{name} ")), "{name} in {text}");
        }
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
    }
}
