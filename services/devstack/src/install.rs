//! Installs `redis-server` when devstack must start one and the machine lacks it, the way
//! `scripts/install-deps.sh` does: Debian's package with `apt-get` as root, through `sudo -n`
//! otherwise (it never asks for a password). Where neither works, it fails with the one
//! command to run.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Whether `sudo` is there, and whether it runs without a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sudo {
    Absent,
    AsksForPassword,
    NoPassword,
}

/// What decides how `redis-server` can be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    pub is_root: bool,
    pub sudo: Sudo,
    pub has_apt: bool,
}

/// How `redis-server` gets onto the machine.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Commands devstack runs itself, in order; none of them asks anything.
    Run(Vec<Vec<&'static str>>),
    /// devstack cannot install it: why, and the one command for the user to run.
    Manual {
        reason: &'static str,
        command: &'static str,
    },
}

/// The pure decision: what to run, or what to ask the user to run.
pub fn plan(machine: Machine) -> Plan {
    let prefix: &[&'static str] = match machine {
        Machine { has_apt: false, .. } => {
            return Plan::Manual {
                reason: "there is no apt-get here",
                command: if cfg!(target_os = "macos") {
                    "brew install redis"
                } else {
                    "install Redis with the system's package manager (package `redis` or `redis-server`)"
                },
            };
        }
        Machine { is_root: true, .. } => &[],
        Machine {
            sudo: Sudo::NoPassword,
            ..
        } => &["sudo", "-n"],
        Machine {
            sudo: Sudo::AsksForPassword,
            ..
        } => {
            return Plan::Manual {
                reason: "it is not root and sudo asks for a password",
                command: "sudo apt-get install -y redis-server",
            };
        }
        Machine {
            sudo: Sudo::Absent, ..
        } => {
            return Plan::Manual {
                reason: "it is not root and there is no sudo",
                command: "su -c 'apt-get install -y redis-server'",
            };
        }
    };
    let with_prefix = |args: &[&'static str]| prefix.iter().chain(args).copied().collect();
    Plan::Run(vec![
        with_prefix(&["apt-get", "update", "-qq"]),
        with_prefix(&[
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-qq",
            "redis-server",
        ]),
    ])
}

/// The error when devstack cannot install `redis-server` itself (`redis` is redacted).
pub fn manual_message(redis: &str, reason: &str, command: &str) -> String {
    format!(
        "no Redis answers at {redis} and redis-server is not installed, and devstack cannot \
         install it here ({reason}). To install it:\n\n    {command}\n\n\
         then `cargo run -p devstack` again (or point REDIS_URL at a running Redis)."
    )
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| Path::new(&dir).join(name).is_file())
    })
}

fn quietly(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// This machine, as [`plan`] needs it (`/proc/self` belongs to the effective user).
pub fn this_machine() -> Machine {
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    let sudo = if !on_path("sudo") {
        Sudo::Absent
    } else if is_root || quietly(Command::new("sudo").args(["-n", "true"])) {
        Sudo::NoPassword
    } else {
        Sudo::AsksForPassword
    };
    Machine {
        is_root,
        sudo,
        has_apt: on_path("apt-get"),
    }
}

/// Installs `redis-server`, saying what it runs (its output goes to stderr), or fails with
/// the command to run. `redis` (redacted) is the URL where no Redis answered.
pub fn redis_server(redis: &str) -> anyhow::Result<()> {
    let steps = match plan(this_machine()) {
        Plan::Manual { reason, command } => bail!(manual_message(redis, reason, command)),
        Plan::Run(steps) => steps,
    };
    let shown = |step: &[&str]| step.join(" ");
    if let Some(install) = steps.last() {
        tracing::info!(command = %shown(install), "redis-server is not installed: installing it");
    }
    for step in &steps {
        let status = Command::new(step[0])
            .args(&step[1..])
            .stdin(Stdio::null())
            .stdout(std::io::stderr())
            .status()
            .with_context(|| format!("running `{}`", shown(step)))?;
        if !status.success() {
            bail!(
                "`{}` failed ({status}), see above; install redis-server, or point REDIS_URL \
                 at a running Redis",
                shown(step)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(is_root: bool, sudo: Sudo, has_apt: bool) -> Machine {
        Machine {
            is_root,
            sudo,
            has_apt,
        }
    }

    const UPDATE: &[&str] = &["apt-get", "update", "-qq"];
    const INSTALL: &[&str] = &[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-qq",
        "redis-server",
    ];

    #[test]
    fn as_root_it_runs_apt_get_itself_whatever_sudo_is() {
        for sudo in [Sudo::Absent, Sudo::AsksForPassword, Sudo::NoPassword] {
            assert_eq!(
                plan(machine(true, sudo, true)),
                Plan::Run(vec![UPDATE.to_vec(), INSTALL.to_vec()])
            );
        }
    }

    #[test]
    fn with_sudo_that_asks_nothing_it_runs_apt_get_through_sudo_n() {
        let Plan::Run(steps) = plan(machine(false, Sudo::NoPassword, true)) else {
            panic!("passwordless sudo installs");
        };
        assert_eq!(steps.len(), 2);
        for (step, expected) in steps.iter().zip([UPDATE, INSTALL]) {
            assert_eq!(step[..2], ["sudo", "-n"]);
            assert_eq!(step[2..], *expected);
        }
    }

    #[test]
    fn when_sudo_asks_for_a_password_it_names_the_sudo_command() {
        assert_eq!(
            plan(machine(false, Sudo::AsksForPassword, true)),
            Plan::Manual {
                reason: "it is not root and sudo asks for a password",
                command: "sudo apt-get install -y redis-server",
            }
        );
    }

    #[test]
    fn without_sudo_it_names_the_command_to_run_as_root() {
        assert_eq!(
            plan(machine(false, Sudo::Absent, true)),
            Plan::Manual {
                reason: "it is not root and there is no sudo",
                command: "su -c 'apt-get install -y redis-server'",
            }
        );
    }

    #[test]
    fn without_apt_get_it_installs_nothing_even_as_root() {
        for is_root in [true, false] {
            for sudo in [Sudo::Absent, Sudo::AsksForPassword, Sudo::NoPassword] {
                let Plan::Manual { reason, .. } = plan(machine(is_root, sudo, false)) else {
                    panic!("no apt-get, no install");
                };
                assert_eq!(reason, "there is no apt-get here");
            }
        }
    }

    #[test]
    fn the_message_shows_the_command_on_a_line_of_its_own_and_the_alternative() {
        let message = manual_message(
            "redis://127.0.0.1:6379",
            "it is not root and sudo asks for a password",
            "sudo apt-get install -y redis-server",
        );
        assert!(message.starts_with("no Redis answers at redis://127.0.0.1:6379"));
        assert!(message.contains("(it is not root and sudo asks for a password)"));
        assert!(
            message
                .lines()
                .any(|line| line.trim() == "sudo apt-get install -y redis-server"),
            "{message}"
        );
        assert!(message.contains("REDIS_URL"), "{message}");
    }
}
