//! ICMP echo ("ping") for [`WeightedRtt`](super::WeightedRtt), the WeightedICMP select mode:
//! a raw ICMP socket where the process may open one (root or `CAP_NET_RAW`), else the
//! unprivileged ping socket Linux offers to the groups in `net.ipv4.ping_group_range`. When
//! neither can be opened the caller falls back to timing a TCP connect. Blocking calls: run
//! them on a blocking thread.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// The kind of socket an echo went out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoSocket {
    /// `SOCK_RAW`: needs root or `CAP_NET_RAW`; IPv4 replies arrive with their IP header.
    Raw,
    /// `SOCK_DGRAM` with `IPPROTO_ICMP(V6)`: Linux's unprivileged ping socket; the kernel sets
    /// the identifier and filters replies by it.
    Ping,
}

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// Bytes after the 8-byte header: a marker that tells our replies from other processes' ones.
const PAYLOAD: &[u8; 16] = b"rpcx-rtt-probe\0\0";

/// Distinct sequence numbers across the probes of one process.
static SEQUENCE: AtomicU16 = AtomicU16::new(1);

/// Opens an echo socket towards `ip`, raw first, then a ping socket. The error is the raw
/// socket's when neither opens (typically `PermissionDenied`).
fn open(ip: IpAddr) -> io::Result<(UdpSocket, EchoSocket)> {
    let (domain, protocol) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let (socket, kind) = match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(s) => (s, EchoSocket::Raw),
        Err(raw_err) => match Socket::new(domain, Type::DGRAM, Some(protocol)) {
            Ok(s) => (s, EchoSocket::Ping),
            Err(_) => return Err(raw_err),
        },
    };
    // A std UDP socket over the ICMP descriptor: connected send/recv with read timeouts, all
    // safe. Connecting also makes the kernel deliver only packets from `ip`.
    let socket = UdpSocket::from(socket);
    socket.connect(SocketAddr::new(ip, 0))?;
    Ok((socket, kind))
}

/// The one's-complement Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request: type, code 0, checksum, identifier, sequence, [`PAYLOAD`]. For ICMPv6 the
/// kernel computes the checksum (it covers a pseudo-header), as it does for ping sockets.
fn request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + PAYLOAD.len());
    p.push(if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 });
    p.push(0);
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(PAYLOAD);
    if !v6 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// Whether `packet` (as read from the socket) is the reply to our echo `seq` (and `id`, which
/// only raw sockets see as sent: a ping socket's kernel rewrites it).
fn is_reply(packet: &[u8], v6: bool, kind: EchoSocket, id: u16, seq: u16) -> bool {
    // Raw IPv4 sockets hand over the IP header too; its length is in the first byte.
    let icmp = if !v6 && kind == EchoSocket::Raw {
        match packet.first() {
            Some(b) if b >> 4 == 4 => packet.get(usize::from(b & 0x0f) * 4..),
            _ => None,
        }
    } else {
        Some(packet)
    };
    let Some(icmp) = icmp else { return false };
    if icmp.len() < 8 + PAYLOAD.len() {
        return false;
    }
    let reply = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp[0] == reply
        && icmp[1] == 0
        && (kind == EchoSocket::Ping || icmp[4..6] == id.to_be_bytes())
        && icmp[6..8] == seq.to_be_bytes()
        && icmp[8..8 + PAYLOAD.len()] == PAYLOAD[..]
}

/// The outcome of [`ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingStats {
    /// The socket the echoes went out on.
    pub socket: EchoSocket,
    /// Echoes sent.
    pub sent: u32,
    /// The mean round trip of the answered ones; `None` when none was answered.
    pub average: Option<Duration>,
}

/// Sends `count` echo requests to `ip` one after the other, as Go's WeightedICMP (3 echoes,
/// 3 s in all): each waits for its reply at most its share of `budget` (a lost echo costs its
/// share, not the rest of the budget, so the next ones still go out), and an answered one
/// moves on at once. `Err` when no ICMP socket can be opened or used (the caller falls back
/// to timing TCP connects).
pub fn ping(ip: IpAddr, count: u32, budget: Duration) -> io::Result<PingStats> {
    let (socket, kind) = open(ip)?;
    let v6 = ip.is_ipv6();
    let id = (std::process::id() & 0xffff) as u16;
    let deadline = Instant::now() + budget;
    let share = budget / count.max(1);
    let (mut sent, mut answered, mut total) = (0u32, 0u32, Duration::ZERO);
    let mut buf = [0u8; 1500];
    while sent < count {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        socket.send(&request(v6, id, seq))?;
        sent += 1;
        let started = Instant::now();
        let echo_deadline = (started + share).min(deadline);
        loop {
            let left = echo_deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv(&mut buf) {
                Ok(n) if is_reply(&buf[..n], v6, kind, id, seq) => {
                    answered += 1;
                    total += started.elapsed();
                    break;
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error for our echo (host or network unreachable) reported on the
                // connected socket: this echo is lost, the next may pass.
                Err(_) => break,
            }
        }
    }
    Ok(PingStats {
        socket: kind,
        sent,
        average: (answered > 0).then(|| total / answered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_request_verifies() {
        let p = request(false, 0x1234, 7);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(p[0], ECHO_REQUEST_V4);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn replies_are_matched_by_type_sequence_and_payload() {
        let mut reply = request(false, 9, 5);
        reply[0] = ECHO_REPLY_V4;
        assert!(is_reply(&reply, false, EchoSocket::Ping, 1, 5));
        assert!(!is_reply(&reply, false, EchoSocket::Ping, 1, 6));
        // A raw IPv4 socket expects the IP header first.
        assert!(!is_reply(&reply, false, EchoSocket::Raw, 9, 5));
        // A raw IPv4 socket sees the IP header first (20 bytes, IHL 5).
        let mut framed = vec![0x45u8];
        framed.extend_from_slice(&[0; 19]);
        framed.extend_from_slice(&reply);
        assert!(is_reply(&framed, false, EchoSocket::Raw, 9, 5));
        assert!(!is_reply(&framed, false, EchoSocket::Raw, 8, 5));
        // Our own request, looped back to a raw socket, is not a reply.
        let mut own = vec![0x45u8];
        own.extend_from_slice(&[0; 19]);
        own.extend_from_slice(&request(false, 9, 5));
        assert!(!is_reply(&own, false, EchoSocket::Raw, 9, 5));
        // Truncated or foreign packets.
        assert!(!is_reply(&reply[..10], false, EchoSocket::Ping, 9, 5));
        assert!(!is_reply(&[], false, EchoSocket::Raw, 9, 5));
        let mut v6 = request(true, 9, 5);
        v6[0] = ECHO_REPLY_V6;
        assert!(is_reply(&v6, true, EchoSocket::Raw, 9, 5));
    }

    #[test]
    fn loopback_answers_when_an_icmp_socket_opens() {
        match ping(IpAddr::from([127, 0, 0, 1]), 2, Duration::from_secs(2)) {
            Ok(stats) => {
                assert_eq!(stats.sent, 2);
                assert!(stats.average.is_some(), "{stats:?}");
            }
            // Neither a raw socket nor a ping socket is allowed here.
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}"),
        }
    }
}
