//! `rpcx-bench limit-server`: the floor under any rpcx server on this machine. A minimal tokio
//! loop per connection that reads rpcx frames (16-byte prefix, then the body) and answers each
//! with one prebuilt `Hello.Say` reply frame (527-byte payload) carrying the request's seq. No
//! dispatch, no decoding of sections, no per-request task or allocation; replies to every
//! frame found in one read go out in one write.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use rpcx::protocol::{Message, SerializeType, PREFIX_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The reply frame every request gets (its seq bytes 4..12 are patched per request).
fn reply_frame() -> Vec<u8> {
    let mut m = rpcx::benchmark::BenchmarkMessage::filled();
    m.field1 = "OK".to_owned();
    m.field2 = 100;
    let mut msg = Message::request("Hello", "Say", SerializeType::PROTOBUF, prost_bytes(&m));
    msg.header = msg.header.response();
    msg.encode().map(|b| b.to_vec()).unwrap_or_default()
}

fn prost_bytes(m: &rpcx::benchmark::BenchmarkMessage) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = rpcx::codec::Codable::encode_as(m, SerializeType::PROTOBUF, &mut out);
    out
}

pub async fn run(addr: &str) -> Result<(), String> {
    let host = addr.strip_prefix("tcp@").unwrap_or(addr);
    let listener = TcpListener::bind(host).await.map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("LISTENING tcp@{local}");
    let reply: &'static [u8] = Box::leak(reply_frame().into_boxed_slice());
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = term.recv() => return Ok(()),
            a = listener.accept() => match a {
                Ok((s, _)) => {
                    tokio::spawn(serve(s, reply));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

async fn serve(mut s: TcpStream, reply: &'static [u8]) {
    let _ = s.set_nodelay(true);
    let (mut r, mut w) = s.split();
    let mut inbuf = BytesMut::with_capacity(64 << 10);
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(64 << 10);
        }
        match r.read_buf(&mut inbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while inbuf.len() >= PREFIX_LEN {
            let total = u32::from_be_bytes([inbuf[12], inbuf[13], inbuf[14], inbuf[15]]) as usize;
            if inbuf[0] != rpcx::protocol::MAGIC || total > (16 << 20) {
                return;
            }
            if inbuf.len() < PREFIX_LEN + total {
                break;
            }
            let at = out.len();
            out.extend_from_slice(reply);
            out[at + 4..at + 12].copy_from_slice(&inbuf[4..12]);
            inbuf.advance(PREFIX_LEN + total);
        }
        if !out.is_empty() {
            if w.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}
