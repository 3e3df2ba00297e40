//! Processes as the kernel sees them (/proc), and signals sent with `kill(1)`.

use std::process::Command;
use std::time::{Duration, Instant};

/// `(pid, parent pid, state, command name)` from `/proc/{pid}/stat`.
fn stat(pid: u32) -> Option<(u32, u32, char, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses: split at the last ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text[open + 1..close].to_owned();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    Some((pid, parent, state, name))
}

/// Every process whose parent is `pid`, with its command name.
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .filter(|(_, parent, _, _)| *parent == pid)
        .map(|(pid, _, _, name)| (pid, name))
        .collect()
}

/// Whether `pid` names a live process (a zombie counts as gone: it runs nothing and holds
/// no port).
pub fn is_running(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, _, state, _)| state != 'Z' && state != 'X')
}

/// Sends `signal` (e.g. `-INT`) to the process group `pgid`, as a terminal does on Ctrl-C.
pub fn signal_group(signal: &str, pgid: u32) {
    let status = Command::new("kill")
        .args([signal, "--", &format!("-{pgid}")])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill {signal} -{pgid} failed");
}

/// Waits until `pid` is gone.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while is_running(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}
