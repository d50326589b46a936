//! Standard base64 (RFC 4648 alphabet, with `=` padding), the text form Go's `encoding/json`
//! gives `[]byte` values.
//!
//! Decoding follows Go's `base64.StdEncoding`: padding is required, `\r` and `\n` anywhere are
//! skipped, and unused low bits of the last symbol are not checked.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Malformed base64 text; the position is a byte offset into the input (Go's
/// `CorruptInputError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Base64Error(pub(crate) usize);

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.0)
    }
}

impl std::error::Error for Base64Error {}

/// Appends the padded base64 text of `input` to `out`.
pub(crate) fn encode_into(input: &[u8], out: &mut String) {
    out.reserve(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(chunk[0]) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let symbol = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(symbol(18));
        out.push(symbol(12));
        out.push(if chunk.len() > 1 { symbol(6) } else { '=' });
        out.push(if chunk.len() > 2 { symbol(0) } else { '=' });
    }
}

/// The padded base64 text of `input`.
pub(crate) fn encode(input: &[u8]) -> String {
    let mut out = String::new();
    encode_into(input, &mut out);
    out
}

fn symbol_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes padded base64 text.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    // Bits of the current quantum, the number of symbols in it (padding included) and how
    // many of those were `=`.
    let mut acc: u32 = 0;
    let mut count = 0usize;
    let mut padding = 0usize;
    for (i, &c) in input.iter().enumerate() {
        if c == b'\r' || c == b'\n' {
            continue;
        }
        if c == b'=' {
            // Padding may only complete a quantum that already holds two or three symbols.
            if count < 2 || count == 4 {
                return Err(Base64Error(i));
            }
            padding += 1;
            count += 1;
            acc <<= 6;
            continue;
        }
        if padding > 0 {
            return Err(Base64Error(i));
        }
        let v = symbol_value(c).ok_or(Base64Error(i))?;
        acc = (acc << 6) | v;
        count += 1;
        if count == 4 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
            count = 0;
        }
    }
    match (count, padding) {
        (0, 0) => Ok(out),
        (4, 1 | 2) => {
            out.extend_from_slice(&acc.to_be_bytes()[1..4 - padding]);
            Ok(out)
        }
        _ => Err(Base64Error(input.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, text) in cases {
            assert_eq!(encode(plain.as_bytes()), text);
            assert_eq!(decode(text.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn full_alphabet_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        let text = encode(&all);
        assert!(text.contains('+') && text.contains('/'));
        assert_eq!(decode(text.as_bytes()).unwrap(), all);
        assert_eq!(encode(&[1, 2, 3]), "AQID");
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn newlines_are_skipped() {
        assert_eq!(decode(b"Zm9v\r\nYmFy\n").unwrap(), b"foobar");
        assert_eq!(decode(b"Zg=\n=").unwrap(), b"f");
    }

    #[test]
    fn malformed_input_reports_position() {
        assert_eq!(decode(b"Zg").unwrap_err(), Base64Error(2));
        assert_eq!(decode(b"Zm9").unwrap_err(), Base64Error(3));
        assert_eq!(decode(b"Zm9v!").unwrap_err(), Base64Error(4));
        assert_eq!(decode(b"=AAA").unwrap_err(), Base64Error(0));
        assert_eq!(decode(b"Zg==Zg==").unwrap_err(), Base64Error(4));
        assert_eq!(decode(b"Zg=A").unwrap_err(), Base64Error(3));
        assert_eq!(decode(b"Zm9v=").unwrap_err(), Base64Error(4));
        assert_eq!(
            decode(b"Zg").unwrap_err().to_string(),
            "illegal base64 data at input byte 2"
        );
    }

    #[test]
    fn unused_low_bits_are_ignored_like_go() {
        // Go's StdEncoding is not strict: "Zh==" decodes to "f" as well.
        assert_eq!(decode(b"Zh==").unwrap(), b"f");
    }
}
