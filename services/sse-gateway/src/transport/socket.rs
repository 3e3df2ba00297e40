//! Socket options, all set here: the listener's accept queue, an accepted socket's options,
//! and the end of a response's writing.

use tokio::net::{TcpListener, TcpStream};

/// Deepens the listener's accept queue to `backlog` (listening again on a listening socket
/// only changes its backlog).
pub fn deepen_accept_queue(listener: &TcpListener, backlog: i32) {
    if let Err(error) = socket2::SockRef::from(listener).listen(backlog) {
        tracing::warn!(%error, "could not deepen the accept queue");
    }
}

/// Options of every accepted socket: frames leave at once, not batched by Nagle's algorithm.
pub fn prepare_accepted(socket: &TcpStream) {
    let _ = socket.set_nodelay(true);
}

/// Ends the response's side of the connection once everything is written.
pub fn end_writing(socket: &TcpStream) {
    let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Write);
}
