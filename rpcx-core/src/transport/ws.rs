//! rpcx inside a WebSocket (RFC 6455), as Go's `ws`/`wss` networks carry it: the rpcx byte
//! stream is cut into WebSocket data frames, and the data frames read are joined back into
//! one byte stream. Frame boundaries mean nothing, and text frames are read like binary ones:
//! Go's client (golang.org/x/net/websocket) sends its binary rpcx frames as *text* frames,
//! which every RFC-strict WebSocket crate refuses as invalid UTF-8 — the reason this small
//! codec exists instead of one of them. Frames sent are binary.
//!
//! A bridge joins a WebSocket (a socket after the handshake) to an in-memory duplex pipe whose
//! other end is an ordinary rpcx [`Connection`]; the bridge runs until either side ends.

use std::io;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

use super::{Connection, ReadHalf, WriteHalf};

/// The GUID of the handshake (RFC 6455 §1.3).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Capacity of the in-memory pipe between the WebSocket and the rpcx connection, each way.
/// With the buffers below, a WebSocket connection holds about 100 KiB.
const PIPE_BYTES: usize = 32 << 10;

/// Largest data frame written; longer writes are cut.
const MAX_OUT_FRAME: usize = 16 << 10;

/// Bytes of a data frame's payload read at a time.
const IN_CHUNK: usize = 8 << 10;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Which end of the WebSocket this is: clients mask what they send (RFC 6455 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
pub(crate) fn new_key() -> String {
    let bytes: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Joins a WebSocket to a new rpcx connection: returns the connection (named `peer`) and the
/// future that moves the bytes, which must be polled (spawned or joined) for the connection to
/// work. The future ends when the peer closes the WebSocket or the socket fails (the
/// connection then reads EOF), or when the connection's halves are dropped (a close frame is
/// sent).
pub(crate) fn bridge(
    read: ReadHalf,
    write: WriteHalf,
    role: Role,
    peer: String,
) -> (Connection, impl std::future::Future<Output = ()> + Send) {
    let (local, remote) = tokio::io::duplex(PIPE_BYTES);
    let (r, w) = tokio::io::split(remote);
    let conn = Connection::new(Box::new(r), Box::new(w), peer);
    (conn, run(read, write, local, role))
}

/// A frame the reading side asks the writing side to send.
enum Control {
    Pong(Vec<u8>),
    Close(Vec<u8>),
}

async fn run(read: ReadHalf, write: WriteHalf, local: DuplexStream, role: Role) {
    let (local_read, local_write) = tokio::io::split(local);
    let (tx, rx) = mpsc::channel::<Control>(4);
    let inbound = async move {
        let r = inbound(read, local_write, role, &tx).await;
        // A peer that broke the protocol hears why; its frames stop here either way.
        if let Err(e) = r {
            if e.kind() == io::ErrorKind::InvalidData {
                let _ = tx.send(Control::Close(close_payload(1002))).await;
            }
        }
        // `tx` drops here: the writing side learns the peer is done.
    };
    let outbound = outbound(write, local_read, role, rx);
    tokio::join!(inbound, outbound);
}

/// The payload of a close frame with `code` and no reason.
fn close_payload(code: u16) -> Vec<u8> {
    code.to_be_bytes().to_vec()
}

/// Reads frames from the peer and writes the payload of data frames to the rpcx side.
async fn inbound(
    mut read: ReadHalf,
    mut local: impl AsyncWrite + Unpin,
    role: Role,
    control: &mpsc::Sender<Control>,
) -> io::Result<()> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let mut chunk = vec![0u8; IN_CHUNK];
    loop {
        let mut head = [0u8; 2];
        if read.read_exact(&mut head).await.is_err() {
            return Ok(());
        }
        let fin = head[0] & 0x80 != 0;
        if head[0] & 0x70 != 0 {
            return Err(bad("reserved bits set"));
        }
        let opcode = head[0] & 0x0F;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7F {
            126 => u64::from(read.read_u16().await?),
            127 => read.read_u64().await?,
            n => u64::from(n),
        };
        let mut mask = [0u8; 4];
        if masked {
            read.read_exact(&mut mask).await?;
        }
        if role == Role::Server && !masked {
            return Err(bad("client frame not masked"));
        }
        match opcode {
            OP_CONTINUATION | OP_TEXT | OP_BINARY => {
                let mut left = len;
                let mut offset = 0usize;
                while left > 0 {
                    let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
                    read.read_exact(&mut chunk[..n]).await?;
                    if masked {
                        apply_mask(&mut chunk[..n], mask, offset);
                    }
                    offset += n;
                    left -= n as u64;
                    if local.write_all(&chunk[..n]).await.is_err() {
                        return Ok(());
                    }
                }
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || len > 125 {
                    return Err(bad("control frame too long or fragmented"));
                }
                let mut payload = vec![0u8; len as usize];
                read.read_exact(&mut payload).await?;
                if masked {
                    apply_mask(&mut payload, mask, 0);
                }
                match opcode {
                    OP_PING => {
                        let _ = control.send(Control::Pong(payload)).await;
                    }
                    OP_CLOSE => {
                        // Echo the peer's status code, as RFC 6455 §5.5.1 asks.
                        let reply = payload.get(..2).map_or_else(Vec::new, <[u8]>::to_vec);
                        let _ = control.send(Control::Close(reply)).await;
                        return Ok(());
                    }
                    _ => {}
                }
            }
            _ => return Err(bad("unknown opcode")),
        }
    }
}

/// Sends what the rpcx side writes as binary frames, and the control frames asked for; sends
/// a close frame once either side is done, then shuts the socket's write side down.
async fn outbound(
    mut write: WriteHalf,
    mut local: impl AsyncRead + Unpin,
    role: Role,
    mut control: mpsc::Receiver<Control>,
) {
    let mut buf = vec![0u8; MAX_OUT_FRAME];
    let mut frame = Vec::with_capacity(MAX_OUT_FRAME + 14);
    let mut peer_open = true;
    loop {
        tokio::select! {
            c = control.recv(), if peer_open => match c {
                Some(Control::Pong(p)) => {
                    encode_frame(OP_PONG, &p, role, &mut frame);
                    if write.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                Some(Control::Close(p)) => {
                    encode_frame(OP_CLOSE, &p, role, &mut frame);
                    let _ = write.write_all(&frame).await;
                    break;
                }
                // The peer's side ended without a close frame (EOF or a failed read); what
                // the rpcx side still writes may reach a half-closed peer, so go on until
                // that side ends too.
                None => peer_open = false,
            },
            n = local.read(&mut buf) => match n {
                Ok(n) if n > 0 => {
                    encode_frame(OP_BINARY, &buf[..n], role, &mut frame);
                    if write.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                _ => {
                    encode_frame(OP_CLOSE, &close_payload(1000), role, &mut frame);
                    let _ = write.write_all(&frame).await;
                    break;
                }
            },
        }
    }
    let _ = write.shutdown().await;
}

/// One whole frame (FIN set) with `payload`, masked with a random key for clients.
fn encode_frame(opcode: u8, payload: &[u8], role: Role, out: &mut Vec<u8>) {
    out.clear();
    out.push(0x80 | opcode);
    let mask_bit = if role == Role::Client { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let start = out.len();
    if role == Role::Client {
        let key: [u8; 4] = fastrand::u32(..).to_be_bytes();
        out.extend_from_slice(&key);
        out.extend_from_slice(payload);
        apply_mask(&mut out[start + 4..], key, 0);
    } else {
        out.extend_from_slice(payload);
    }
}

/// XORs `data` with the mask, `offset` bytes into the frame's payload.
fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_carry_their_length_and_mask() {
        let mut out = Vec::new();
        encode_frame(OP_BINARY, &[1, 2, 3], Role::Server, &mut out);
        assert_eq!(out, [0x82, 3, 1, 2, 3]);
        encode_frame(OP_BINARY, &[0u8; 300], Role::Client, &mut out);
        assert_eq!(&out[..4], &[0x82, 0x80 | 126, 1, 44]);
        let key = [out[4], out[5], out[6], out[7]];
        let mut body = out[8..].to_vec();
        apply_mask(&mut body, key, 0);
        assert_eq!(body, vec![0u8; 300]);
    }

    #[tokio::test]
    async fn client_and_server_bridges_talk() {
        let (a, b) = tokio::io::duplex(1024);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        let (mut client, c_run) = bridge(Box::new(ar), Box::new(aw), Role::Client, "c".into());
        let (mut server, s_run) = bridge(Box::new(br), Box::new(bw), Role::Server, "s".into());
        tokio::spawn(c_run);
        let s_task = tokio::spawn(s_run);
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let send = big.clone();
        let writer = tokio::spawn(async move {
            client.write.write_all(&send).await.unwrap();
            client
        });
        let mut got = vec![0u8; big.len()];
        server.read.read_exact(&mut got).await.unwrap();
        assert_eq!(got, big);
        server.write.write_all(b"reply").await.unwrap();
        let mut client = writer.await.unwrap();
        let mut five = [0u8; 5];
        client.read.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"reply");
        // The client leaving closes the WebSocket: the server side reads EOF.
        drop(client);
        let mut rest = Vec::new();
        server.read.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        drop(server);
        s_task.await.unwrap();
    }
}
