//! Socket options, all set here: the listener's (which accepted sockets inherit), and the end
//! of a response's writing.

use tokio::net::{TcpListener, TcpStream};

/// Deepens the listener's accept queue to `backlog` (listening again on a listening socket
/// only changes its backlog), and sets the options of every socket it accepts: frames leave
/// at once, not batched by Nagle's algorithm. Linux copies `TCP_NODELAY` from the listener
/// to each accepted socket, so no option is set per connection.
pub fn prepare_listener(listener: &TcpListener, backlog: i32) {
    let listener = socket2::SockRef::from(listener);
    if let Err(error) = listener.listen(backlog) {
        tracing::warn!(%error, "could not deepen the accept queue");
    }
    if let Err(error) = listener.set_tcp_nodelay(true) {
        tracing::warn!(%error, "could not turn Nagle's algorithm off");
    }
}

/// Ends the response's side of the connection once everything is written.
pub fn end_writing(socket: &TcpStream) {
    let _ = socket2::SockRef::from(socket).shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_sockets_inherit_no_delay_from_the_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        super::prepare_listener(&listener, 64);
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(accepted.nodelay().unwrap());
    }
}
