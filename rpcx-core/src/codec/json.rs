//! JSON (serialize type 1), byte-compatible with Go's `encoding/json` for the common cases.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::ser::Formatter;

use super::registry::{DeserializeFn, SerdeCodec};
use super::CodecError;
use crate::protocol::SerializeType;

/// A `serde_json` formatter that writes what Go's `json.Marshal` writes: compact output,
/// `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` etc., and floats in Go's shortest
/// form (`100` rather than `100.0`, `1e+21` rather than `1e21`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GoFormatter;

impl GoFormatter {
    fn write_float<W, F>(writer: &mut W, value: F, abs: f64) -> io::Result<()>
    where
        W: ?Sized + io::Write,
        F: std::fmt::Display + std::fmt::LowerExp,
    {
        // Go uses plain notation for 1e-6 <= |v| < 1e21 and exponent notation otherwise,
        // always with the shortest digits that round-trip; the exponent has an explicit sign.
        if abs == 0.0 || (1e-6..1e21).contains(&abs) {
            write!(writer, "{value}")
        } else {
            let text = format!("{value:e}");
            match text.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with('-') => {
                    write!(writer, "{mantissa}e+{exp}")
                }
                _ => writer.write_all(text.as_bytes()),
            }
        }
    }
}

impl Formatter for GoFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let (escape, width): (&[u8], usize) = match b {
                b'<' => (b"\\u003c", 1),
                b'>' => (b"\\u003e", 1),
                b'&' => (b"\\u0026", 1),
                // U+2028 and U+2029 are E2 80 A8 / E2 80 A9 in UTF-8.
                0xE2 if bytes.get(i + 1) == Some(&0x80) => match bytes.get(i + 2) {
                    Some(0xA8) => (b"\\u2028", 3),
                    Some(0xA9) => (b"\\u2029", 3),
                    _ => continue,
                },
                _ => continue,
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escape)?;
            start = i + width;
        }
        writer.write_all(&bytes[start..])
    }

    fn write_f64<W>(&mut self, writer: &mut W, value: f64) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        Self::write_float(writer, value, value.abs())
    }

    fn write_f32<W>(&mut self, writer: &mut W, value: f32) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        Self::write_float(writer, value, f64::from(value.abs()))
    }
}

/// Appends the JSON text of `value` to `out`, formatted as Go's `json.Marshal` would (compact,
/// no trailing newline, see [`GoFormatter`]).
pub fn json_encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let mut ser = serde_json::Serializer::with_formatter(out, GoFormatter);
    value
        .serialize(&mut ser)
        .map_err(|e| CodecError::encode(SerializeType::JSON, e))
}

/// Decodes the first JSON value of `bytes` the way the Go server's streaming decoder does:
/// bytes after the first value are ignored, and an empty (or all-whitespace) payload is the
/// error `EOF`. A value cut short is `unexpected EOF`, as in Go; other errors carry
/// `serde_json`'s text.
pub fn json_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    check_not_empty(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    T::deserialize(&mut de).map_err(json_decode_error)
}

fn check_not_empty(bytes: &[u8]) -> Result<(), CodecError> {
    if bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        Err(CodecError::decode(SerializeType::JSON, "EOF"))
    } else {
        Ok(())
    }
}

fn json_decode_error(e: serde_json::Error) -> CodecError {
    if e.is_eof() {
        CodecError::decode(SerializeType::JSON, "unexpected EOF")
    } else {
        CodecError::decode(SerializeType::JSON, e)
    }
}

/// The built-in JSON codec as a [`SerdeCodec`], e.g. to register JSON under another serialize
/// type number. Same behaviour as [`json_encode`] / [`json_decode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl SerdeCodec for JsonCodec {
    fn encode(&self, value: &dyn erased_serde::Serialize, out: &mut Vec<u8>) -> Result<(), String> {
        let mut ser = serde_json::Serializer::with_formatter(out, GoFormatter);
        value.serialize(&mut ser).map_err(|e| e.to_string())
    }

    fn decode(&self, bytes: &[u8], visit: &mut DeserializeFn<'_>) -> Result<(), String> {
        check_not_empty(bytes).map_err(|e| e.to_string())?;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut erased = <dyn erased_serde::Deserializer>::erase(&mut de);
        visit(&mut erased).map_err(|e| e.to_string())
    }
}
