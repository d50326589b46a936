//! Server pushes received by an XClient: every connection's pushes, forwarded into one
//! channel (Go's `NewBidirectionalXClient` hands one channel to all its clients).

use std::sync::Mutex;

use tokio::sync::mpsc;

use crate::client::Client;
use crate::protocol::Message;

/// A message a server pushed to an XClient (a oneway request on one of its connections),
/// with the server it came from.
#[derive(Debug, Clone)]
pub struct ServerPush {
    /// The server's key (`tcp@host:port`, as the discovery lists it).
    pub server: String,
    /// The pushed message (payload raw, as sent).
    pub message: Message,
}

/// The XClient's push channel: senders go to one forwarding task per connection; the
/// XClient's own sender goes when it closes, so the receiver ends once the connections'
/// forwarders have.
pub(crate) struct Pushes {
    tx: Mutex<Option<mpsc::Sender<ServerPush>>>,
    rx: Mutex<Option<mpsc::Receiver<ServerPush>>>,
}

impl Pushes {
    pub(crate) fn new(capacity: usize) -> Pushes {
        let (tx, rx) = mpsc::channel(capacity);
        Pushes {
            tx: Mutex::new(Some(tx)),
            rx: Mutex::new(Some(rx)),
        }
    }

    /// No connection forwards pushes any more (the XClient closed).
    pub(crate) fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The receiver, once.
    pub(crate) fn take(&self) -> Option<mpsc::Receiver<ServerPush>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Forwards `client`'s pushes, labelled `server`, until its connection ends or nobody
    /// can receive them any more. While the XClient's buffer is full the forwarder waits and
    /// the connection's own buffer fills; pushes beyond both are dropped, as a
    /// [`Client`]'s are. Must run on a tokio runtime.
    pub(crate) fn forward(&self, server: &str, client: &Client) {
        let Some(to) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let Some(mut from) = client.take_pushes() else {
            return;
        };
        let server = server.to_owned();
        tokio::spawn(async move {
            while let Some(message) = from.recv().await {
                let push = ServerPush {
                    server: server.clone(),
                    message,
                };
                if to.send(push).await.is_err() {
                    return;
                }
            }
        });
    }
}
