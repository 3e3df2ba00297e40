//! Client sockets bound to several loopback source addresses before connecting. One source
//! address has about 28,000 ephemeral ports; spreading sockets over 127.0.0.2, 127.0.0.3, …
//! keeps large runs (and reconnect storms, whose old sockets linger in TIME_WAIT) clear of
//! port exhaustion.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpSocket, TcpStream};

/// Why a source range is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    #[error("source addresses must be in 127.0.0.0/8; {0} is not")]
    NotLoopback(Ipv4Addr),
    #[error("at least one source address is needed")]
    Empty,
}

/// A round robin over `count` consecutive loopback addresses from `first`.
#[derive(Debug)]
pub struct Sources {
    addrs: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Sources {
    pub fn new(first: Ipv4Addr, count: usize) -> Result<Self, SourceError> {
        if count == 0 {
            return Err(SourceError::Empty);
        }
        let start = u32::from(first);
        let addrs: Vec<Ipv4Addr> = (0..count as u32)
            .map(|n| Ipv4Addr::from(start.wrapping_add(n)))
            .collect();
        if let Some(outside) = addrs.iter().find(|a| !a.is_loopback()) {
            return Err(SourceError::NotLoopback(*outside));
        }
        Ok(Self {
            addrs,
            next: AtomicUsize::new(0),
        })
    }

    pub fn addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// The next source address, in turn.
    pub fn next(&self) -> Ipv4Addr {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.addrs[n % self.addrs.len()]
    }

    /// Connects to `target` from the next source address (IPv4 targets), or from any local
    /// address (an IPv6 target).
    pub async fn connect(&self, target: SocketAddr) -> std::io::Result<TcpStream> {
        let stream = match target.ip() {
            IpAddr::V4(_) => {
                let socket = TcpSocket::new_v4()?;
                // The port is chosen at connect, unique per destination, not at bind: with
                // tens of thousands of earlier connections in TIME_WAIT (runs one after
                // another), a bind to port 0 searches the whole range under a lock and the
                // generator, not the server, becomes the bottleneck.
                nix::sys::socket::setsockopt(
                    &socket,
                    nix::sys::socket::sockopt::IpBindAddressNoPort,
                    &true,
                )?;
                socket.bind(SocketAddr::new(IpAddr::V4(self.next()), 0))?;
                socket.connect(target).await?
            }
            IpAddr::V6(_) => TcpStream::connect(target).await?,
        };
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_loopback_addresses() {
        let sources = Sources::new(Ipv4Addr::new(127, 0, 0, 2), 3).unwrap();
        let picked: Vec<Ipv4Addr> = (0..4).map(|_| sources.next()).collect();
        assert_eq!(
            picked,
            [
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 3),
                Ipv4Addr::new(127, 0, 0, 4),
                Ipv4Addr::new(127, 0, 0, 2)
            ]
        );
        assert_eq!(
            Sources::new(Ipv4Addr::new(127, 255, 255, 255), 2).unwrap_err(),
            SourceError::NotLoopback(Ipv4Addr::new(128, 0, 0, 0))
        );
        assert_eq!(
            Sources::new(Ipv4Addr::new(10, 0, 0, 1), 1).unwrap_err(),
            SourceError::NotLoopback(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            Sources::new(Ipv4Addr::LOCALHOST, 0).unwrap_err(),
            SourceError::Empty
        );
    }
}
