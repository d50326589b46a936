//! W3C Trace Context in rpcx metadata: the `traceparent` (and `tracestate`) request metadata
//! that Go's rpcx-plugins OpenTelemetry plugins, and this crate's `otel` feature, carry a
//! trace in.
//!
//! These helpers need no tracing library: they read, validate, create and write the
//! `traceparent` value (`00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`), for
//! applications with their own tracer, the C ABI and the CLI.
//!
//! ```
//! use rpcx::protocol::Metadata;
//! use rpcx::trace_context::TraceParent;
//!
//! // A new trace (random ids, sampled), sent with a call.
//! let tp = TraceParent::new_random(true);
//! let mut metadata = Metadata::new();
//! tp.set_in(&mut metadata);
//!
//! // What a server reads back.
//! let seen = TraceParent::from_metadata(&metadata).unwrap().unwrap();
//! assert_eq!(seen, tp);
//! assert_eq!(seen.trace_id_hex().len(), 32);
//!
//! assert!(TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_err());
//! ```

use std::fmt;

use crate::protocol::Metadata;

/// The metadata key of the W3C `traceparent` value.
pub const TRACEPARENT: &str = "traceparent";

/// The metadata key of the W3C `tracestate` value (vendor entries, passed along as is).
pub const TRACESTATE: &str = "tracestate";

/// The `sampled` bit of [`TraceParent::flags`].
pub const FLAG_SAMPLED: u8 = 0x01;
/// The `random` bit of [`TraceParent::flags`] (W3C trace context level 2: the trace id is
/// random), kept as received.
pub const FLAG_RANDOM: u8 = 0x02;

/// Why a `traceparent` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceParentError {
    /// Not 55 characters of the form `vv-<32 hex>-<16 hex>-<2 hex>`, or not lowercase hex.
    Malformed,
    /// Version `ff` (forbidden), or version `00` with flags other than sampled and random.
    UnsupportedVersion,
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The parent span id is all zeros.
    ZeroParentId,
}

impl fmt::Display for TraceParentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceParentError::Malformed => {
                "malformed traceparent: expected 00-<32 lowercase hex>-<16 lowercase hex>-<2 lowercase hex>"
            }
            TraceParentError::UnsupportedVersion => {
                "unsupported traceparent: version ff, or version 00 with unknown flags"
            }
            TraceParentError::ZeroTraceId => "traceparent trace id is all zeros",
            TraceParentError::ZeroParentId => "traceparent parent id is all zeros",
        })
    }
}

impl std::error::Error for TraceParentError {}

/// One W3C `traceparent` value (version 00): the trace, the caller's span, the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (16 bytes, never all zero).
    pub trace_id: [u8; 16],
    /// The span id of the caller's span, the parent of the callee's (8 bytes, never all zero).
    pub parent_id: [u8; 8],
    /// Trace flags; bit 0 ([`FLAG_SAMPLED`]) is `sampled`.
    pub flags: u8,
}

/// The value of each lowercase hex digit, 0xff for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn parse_hex(text: &[u8], out: &mut [u8]) -> Result<(), TraceParentError> {
    let mut bad = 0u8;
    for (pair, byte) in text.chunks_exact(2).zip(out.iter_mut()) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(pair[0])],
            HEX_VALUE[usize::from(pair[1])],
        );
        bad |= hi | lo;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    if bad & 0xf0 != 0 {
        return Err(TraceParentError::Malformed);
    }
    Ok(())
}

/// Writes `bytes` as lowercase hex into `out` (twice as long).
fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

fn push_hex(s: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

impl TraceParent {
    /// Parses and validates a `traceparent` value as W3C trace context says (and Go's
    /// OpenTelemetry propagator does): a 32-hex trace id and a 16-hex parent id that are not
    /// all zeros, 2 hex flags, lowercase hex. Version `00` is exactly that (55 characters,
    /// flags sampled and random only); a later version (`01`–`fe`) is read from its first 55
    /// characters, and may go on after a `-`; version `ff` is refused.
    pub fn parse(value: &str) -> Result<TraceParent, TraceParentError> {
        let b = value.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceParentError::Malformed);
        }
        let mut version = [0u8; 1];
        parse_hex(&b[0..2], &mut version)?;
        let mut tp = TraceParent {
            trace_id: [0; 16],
            parent_id: [0; 8],
            flags: 0,
        };
        parse_hex(&b[3..35], &mut tp.trace_id)?;
        parse_hex(&b[36..52], &mut tp.parent_id)?;
        let mut flags = [0u8; 1];
        parse_hex(&b[53..55], &mut flags)?;
        tp.flags = flags[0];
        match version[0] {
            0xff => return Err(TraceParentError::UnsupportedVersion),
            0 if b.len() != 55 => return Err(TraceParentError::Malformed),
            0 if tp.flags & !(FLAG_SAMPLED | FLAG_RANDOM) != 0 => {
                return Err(TraceParentError::UnsupportedVersion)
            }
            // A later version: its first 55 characters are ours, more only after a '-'.
            _ if b.len() > 55 && b[55] != b'-' => return Err(TraceParentError::Malformed),
            0 => {}
            // Flags this version does not define are the later version's: not passed on.
            _ => tp.flags &= FLAG_SAMPLED | FLAG_RANDOM,
        }
        if tp.trace_id == [0; 16] {
            return Err(TraceParentError::ZeroTraceId);
        }
        if tp.parent_id == [0; 8] {
            return Err(TraceParentError::ZeroParentId);
        }
        Ok(tp)
    }

    /// A new trace: a random trace id and parent id (never zero), sampled or not.
    pub fn new_random(sampled: bool) -> TraceParent {
        let trace = loop {
            let t = fastrand::u128(..);
            if t != 0 {
                break t;
            }
        };
        TraceParent {
            trace_id: trace.to_be_bytes(),
            parent_id: random_span_id(),
            flags: if sampled { FLAG_SAMPLED } else { 0 },
        }
    }

    /// The same trace and flags with a new random parent id: what a caller sends after it
    /// started its own span inside this one.
    pub fn child(&self) -> TraceParent {
        TraceParent {
            parent_id: random_span_id(),
            ..*self
        }
    }

    /// True when the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        push_hex(&mut s, &self.trace_id);
        s
    }

    /// The parent span id as 16 lowercase hex digits.
    pub fn parent_id_hex(&self) -> String {
        let mut s = String::with_capacity(16);
        push_hex(&mut s, &self.parent_id);
        s
    }

    /// The `traceparent` text (as [`Display`](fmt::Display) writes it) in one allocation.
    pub fn to_header(&self) -> String {
        // Written into a fixed buffer first, then copied into the string (one allocation).
        let mut b = [b'-'; 55];
        b[0] = b'0';
        b[1] = b'0';
        hex_into(&mut b[3..35], &self.trace_id);
        hex_into(&mut b[36..52], &self.parent_id);
        hex_into(&mut b[53..55], &[self.flags]);
        // Only ASCII was written: the lossy conversion borrows it whole, and `into_owned`
        // is the one allocation.
        String::from_utf8_lossy(&b).into_owned()
    }

    /// Reads `traceparent` from metadata: `None` when there is none, the parse error when it
    /// is malformed.
    pub fn from_metadata(metadata: &Metadata) -> Option<Result<TraceParent, TraceParentError>> {
        metadata.get_str(TRACEPARENT).map(TraceParent::parse)
    }

    /// Writes this value as the metadata's `traceparent`, replacing any previous one.
    pub fn set_in(&self, metadata: &mut Metadata) {
        metadata.insert(TRACEPARENT.to_owned(), self.to_header());
    }
}

fn random_span_id() -> [u8; 8] {
    loop {
        let s = fastrand::u64(..);
        if s != 0 {
            break s.to_be_bytes();
        }
    }
}

impl fmt::Display for TraceParent {
    /// The `traceparent` text: `00-<trace id>-<parent id>-<flags>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_header())
    }
}

impl std::str::FromStr for TraceParent {
    type Err = TraceParentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceParent::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_and_formats_the_spec_example() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");
        assert!(tp.is_sampled());
        assert_eq!(tp.to_string(), GOOD);
    }

    #[test]
    fn refuses_bad_values() {
        use TraceParentError::*;
        let cases = [
            ("", Malformed),
            (&GOOD[..54], Malformed),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
                Malformed,
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-05",
                UnsupportedVersion,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                UnsupportedVersion,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                ZeroTraceId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ZeroParentId,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                Malformed,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é",
                Malformed,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(TraceParent::parse(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn later_versions_are_read_from_their_first_55_characters() {
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-what-comes-next";
        let tp = TraceParent::parse(later).unwrap();
        assert_eq!(
            tp.to_header(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
        );
        assert!(TraceParent::parse(&later[..55]).is_ok());
        // The random flag of level 2 is kept.
        let random = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";
        assert_eq!(TraceParent::parse(random).unwrap().flags, 3);
    }

    #[test]
    fn random_values_round_trip_and_children_keep_the_trace() {
        for sampled in [true, false] {
            let tp = TraceParent::new_random(sampled);
            assert_eq!(tp.is_sampled(), sampled);
            assert_eq!(TraceParent::parse(&tp.to_string()), Ok(tp));
            let child = tp.child();
            assert_eq!(child.trace_id, tp.trace_id);
            assert_eq!(child.flags, tp.flags);
            assert_ne!(child.parent_id, [0; 8]);
        }
        assert_ne!(
            TraceParent::new_random(true).trace_id,
            TraceParent::new_random(true).trace_id
        );
    }

    #[test]
    fn metadata_round_trip() {
        let mut m = Metadata::new();
        assert_eq!(TraceParent::from_metadata(&m), None);
        m.insert(TRACEPARENT.into(), "junk".into());
        assert_eq!(
            TraceParent::from_metadata(&m),
            Some(Err(TraceParentError::Malformed))
        );
        let tp = TraceParent::parse(GOOD).unwrap();
        tp.set_in(&mut m);
        assert_eq!(m[TRACEPARENT], GOOD);
    }
}
