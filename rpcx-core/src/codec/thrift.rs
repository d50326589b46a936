//! Thrift (serialize type 4, Go's `ThriftCodec`): the Thrift binary protocol of a struct, as
//! Go's `thrift.TSerializer` with `TBinaryProtocol` writes it, for any serde type — no IDL
//! compiler, no generated code.
//!
//! A payload is one struct. Field ids are the fields' positions in the Rust struct, from 1
//! (declare the fields in the order of the IDL's ids `1, 2, 3…`; a field skipped with
//! `skip_serializing_if` keeps its id). Types map as Thrift's:
//!
//! | Rust (serde) | Thrift |
//! |---|---|
//! | `bool` | `bool` |
//! | `i8` | `byte` |
//! | `u8` (not in a byte buffer) | `i16` |
//! | `i16` | `i16` |
//! | `i32`, `u16`, unit enum variants (their index) | `i32` |
//! | `i64`, `u32`, `u64` (up to `i64::MAX`) | `i64` |
//! | `f32`, `f64` | `double` |
//! | `String`, `char` | `string` |
//! | byte buffers (`serde_bytes`, [`go_bytes`](super::go_bytes)) | `binary` |
//! | `Vec<T>`, sets, tuples of one type | `list<T>` |
//! | maps | `map<K, V>` |
//! | structs | `struct` |
//! | `Option<T>` | an optional field: `None` is not written, absent reads as `None` |
//! | enum variants holding one value | a `union` (field id = variant index + 1) |
//!
//! Reading accepts what Thrift writers send: unknown field ids are skipped, a `set` reads as
//! a list, integers widen (`i32` into `i64`). Lengths are checked against the bytes left
//! before anything is allocated, and nesting is limited to [`THRIFT_MAX_DEPTH`].

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

use super::CodecError;
use crate::protocol::SerializeType;

/// The deepest nesting of structs, lists and maps a Thrift payload may have.
pub const THRIFT_MAX_DEPTH: usize = 64;

const STOP: u8 = 0;
const BOOL: u8 = 2;
const BYTE: u8 = 3;
const DOUBLE: u8 = 4;
const I16: u8 = 6;
const I32: u8 = 8;
const I64: u8 = 10;
const STRING: u8 = 11;
const STRUCT: u8 = 12;
const MAP: u8 = 13;
const SET: u8 = 14;
const LIST: u8 = 15;
/// Returned by the value serializer for `None`: nothing written, the field is left out.
const ABSENT: u8 = 0xff;

/// The error of both directions; its text goes to the peer.
#[derive(Debug)]
pub struct ThriftError(String);

impl fmt::Display for ThriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thrift: {}", self.0)
    }
}

impl std::error::Error for ThriftError {}

impl ser::Error for ThriftError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ThriftError(msg.to_string())
    }
}

impl de::Error for ThriftError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ThriftError(msg.to_string())
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ThriftError> {
    Err(ThriftError(msg.into()))
}

/// Encodes `value` (a struct) in the Thrift binary protocol.
pub fn thrift_encode<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let ty = value
        .serialize(ValueSer { out, depth: 0 })
        .map_err(|e| CodecError::encode(SerializeType::THRIFT, e))?;
    if ty != STRUCT {
        return Err(CodecError::encode(
            SerializeType::THRIFT,
            "thrift: a payload must be a struct",
        ));
    }
    Ok(())
}

/// Decodes a struct from a Thrift binary protocol payload; bytes after it are ignored.
pub fn thrift_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::decode(SerializeType::THRIFT, "EOF"));
    }
    let mut input = Input { bytes, depth: 0 };
    T::deserialize(ValueDe {
        input: &mut input,
        ty: STRUCT,
    })
    .map_err(|e| CodecError::decode(SerializeType::THRIFT, e))
}

// ---- writing -------------------------------------------------------------------------------

fn len_i32(n: usize) -> Result<[u8; 4], ThriftError> {
    i32::try_from(n)
        .map(i32::to_be_bytes)
        .or_else(|_| err("a length over 2^31-1"))
}

/// Serializes one value, returning its Thrift type (written by the caller in front of it).
struct ValueSer<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
}

impl<'a> ValueSer<'a> {
    fn nested(&mut self) -> Result<usize, ThriftError> {
        if self.depth >= THRIFT_MAX_DEPTH {
            return err(format!("nesting deeper than {THRIFT_MAX_DEPTH}"));
        }
        Ok(self.depth + 1)
    }
}

/// A list (or map) being written: its header's type bytes are patched once the first element
/// told its type; later elements must have the same.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    /// Where the element type (list) or key type (map) byte is.
    header: usize,
    key: Option<u8>,
    value: Option<u8>,
    /// Struct: the id of the next field; union: the variant's id.
    next_id: i16,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T, is_value: bool) -> Result<(), ThriftError> {
        let ty = v.serialize(ValueSer {
            out: self.out,
            depth: self.depth,
        })?;
        if ty == ABSENT {
            return err("a None inside a list or map (Thrift has no null)");
        }
        let (slot, at) = if is_value {
            (&mut self.value, self.header + 1)
        } else {
            (&mut self.key, self.header)
        };
        match *slot {
            None => {
                *slot = Some(ty);
                self.out[at] = ty;
                Ok(())
            }
            Some(t) if t == ty => Ok(()),
            Some(t) => err(format!(
                "elements of different Thrift types ({t} and {ty}) in one list or map"
            )),
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ThriftError> {
        let id = self.next_id;
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or_else(|| ThriftError("more than 32767 fields".into()))?;
        let start = self.out.len();
        self.out.push(STOP);
        self.out.extend_from_slice(&id.to_be_bytes());
        let ty = v.serialize(ValueSer {
            out: self.out,
            depth: self.depth,
        })?;
        if ty == ABSENT {
            self.out.truncate(start);
        } else {
            self.out[start] = ty;
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ThriftError> {
        self.element(v, false)
    }
    fn end(self) -> Result<u8, ThriftError> {
        Ok(LIST)
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ThriftError> {
        self.element(v, false)
    }
    fn end(self) -> Result<u8, ThriftError> {
        Ok(LIST)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ThriftError> {
        self.element(v, false)
    }
    fn end(self) -> Result<u8, ThriftError> {
        Ok(LIST)
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ThriftError> {
        self.element(k, false)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ThriftError> {
        self.element(v, true)
    }
    fn end(self) -> Result<u8, ThriftError> {
        Ok(MAP)
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _name: &'static str,
        v: &T,
    ) -> Result<(), ThriftError> {
        self.field(v)
    }
    fn skip_field(&mut self, _name: &'static str) -> Result<(), ThriftError> {
        self.next_id = self.next_id.saturating_add(1);
        Ok(())
    }
    fn end(self) -> Result<u8, ThriftError> {
        self.out.push(STOP);
        Ok(STRUCT)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _name: &'static str,
        _v: &T,
    ) -> Result<(), ThriftError> {
        err("enum variants with fields are not Thrift types (a union holds one value)")
    }
    fn end(self) -> Result<u8, ThriftError> {
        err("enum variants with fields are not Thrift types")
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = u8;
    type Error = ThriftError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _v: &T) -> Result<(), ThriftError> {
        err("enum variants with several values are not Thrift types")
    }
    fn end(self) -> Result<u8, ThriftError> {
        err("enum variants with several values are not Thrift types")
    }
}

impl<'a> ser::Serializer for ValueSer<'a> {
    type Ok = u8;
    type Error = ThriftError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<u8, ThriftError> {
        self.out.push(u8::from(v));
        Ok(BOOL)
    }
    fn serialize_i8(self, v: i8) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(BYTE)
    }
    fn serialize_i16(self, v: i16) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(I16)
    }
    fn serialize_i32(self, v: i32) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(I32)
    }
    fn serialize_i64(self, v: i64) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(I64)
    }
    fn serialize_u8(self, v: u8) -> Result<u8, ThriftError> {
        self.serialize_i16(i16::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<u8, ThriftError> {
        self.serialize_i32(i32::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<u8, ThriftError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<u8, ThriftError> {
        match i64::try_from(v) {
            Ok(v) => self.serialize_i64(v),
            Err(_) => err(format!("{v} does not fit Thrift's i64")),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<u8, ThriftError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
        Ok(DOUBLE)
    }
    fn serialize_char(self, v: char) -> Result<u8, ThriftError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<u8, ThriftError> {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<u8, ThriftError> {
        self.out.extend_from_slice(&len_i32(v.len())?);
        self.out.extend_from_slice(v);
        Ok(STRING)
    }
    fn serialize_none(self) -> Result<u8, ThriftError> {
        Ok(ABSENT)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<u8, ThriftError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<u8, ThriftError> {
        self.out.push(STOP);
        Ok(STRUCT)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<u8, ThriftError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<u8, ThriftError> {
        match i32::try_from(index) {
            Ok(i) => self.serialize_i32(i),
            Err(_) => err("an enum with more than 2^31 variants"),
        }
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<u8, ThriftError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        v: &T,
    ) -> Result<u8, ThriftError> {
        let depth = self.nested()?;
        let id = i16::try_from(index + 1).or_else(|_| err("a union with over 32767 members"))?;
        let mut c = Compound {
            out: self.out,
            depth,
            header: 0,
            key: None,
            value: None,
            next_id: id,
        };
        c.field(v)?;
        ser::SerializeStruct::end(c)
    }
    fn serialize_seq(mut self, len: Option<usize>) -> Result<Compound<'a>, ThriftError> {
        let Some(len) = len else {
            return err("a list of unknown length");
        };
        let depth = self.nested()?;
        let header = self.out.len();
        self.out.push(BYTE); // element type, patched by the first element
        self.out.extend_from_slice(&len_i32(len)?);
        Ok(Compound {
            out: self.out,
            depth,
            header,
            key: None,
            value: None,
            next_id: 1,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, ThriftError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ThriftError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ThriftError> {
        err("enum variants with several values are not Thrift types")
    }
    fn serialize_map(mut self, len: Option<usize>) -> Result<Compound<'a>, ThriftError> {
        let Some(len) = len else {
            return err("a map of unknown length");
        };
        let depth = self.nested()?;
        let header = self.out.len();
        self.out.extend_from_slice(&[BYTE, BYTE]); // key and value types, patched
        self.out.extend_from_slice(&len_i32(len)?);
        Ok(Compound {
            out: self.out,
            depth,
            header,
            key: None,
            value: None,
            next_id: 1,
        })
    }
    fn serialize_struct(
        mut self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ThriftError> {
        let depth = self.nested()?;
        Ok(Compound {
            out: self.out,
            depth,
            header: 0,
            key: None,
            value: None,
            next_id: 1,
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a>, ThriftError> {
        err("enum variants with fields are not Thrift types (a union holds one value)")
    }
}

// ---- reading -------------------------------------------------------------------------------

struct Input<'b> {
    bytes: &'b [u8],
    depth: usize,
}

impl<'b> Input<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], ThriftError> {
        if self.bytes.len() < n {
            return err("unexpected EOF");
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, ThriftError> {
        Ok(self.take(1)?[0])
    }
    fn i16(&mut self) -> Result<i16, ThriftError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, ThriftError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, ThriftError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
    }
    /// A count of items, each at least `min_size` bytes: refused when the bytes left cannot
    /// hold it (before anything is allocated for it).
    fn count(&mut self, min_size: usize) -> Result<usize, ThriftError> {
        let n = self.i32()?;
        let n = usize::try_from(n).or_else(|_| err(format!("negative size {n}")))?;
        if n.saturating_mul(min_size) > self.bytes.len() {
            return err(format!(
                "size {n} larger than the {} bytes left",
                self.bytes.len()
            ));
        }
        Ok(n)
    }
    fn binary(&mut self) -> Result<&'b [u8], ThriftError> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn enter(&mut self) -> Result<(), ThriftError> {
        if self.depth >= THRIFT_MAX_DEPTH {
            return err(format!("nesting deeper than {THRIFT_MAX_DEPTH}"));
        }
        self.depth += 1;
        Ok(())
    }
    /// Skips a value of wire type `ty`.
    fn skip(&mut self, ty: u8) -> Result<(), ThriftError> {
        match ty {
            BOOL | BYTE => self.take(1).map(drop),
            I16 => self.take(2).map(drop),
            I32 => self.take(4).map(drop),
            I64 | DOUBLE => self.take(8).map(drop),
            STRING => self.binary().map(drop),
            STRUCT => {
                self.enter()?;
                loop {
                    let t = self.u8()?;
                    if t == STOP {
                        break;
                    }
                    self.i16()?;
                    self.skip(t)?;
                }
                self.depth -= 1;
                Ok(())
            }
            LIST | SET => {
                self.enter()?;
                let t = self.u8()?;
                let n = self.count(min_size(t))?;
                for _ in 0..n {
                    self.skip(t)?;
                }
                self.depth -= 1;
                Ok(())
            }
            MAP => {
                self.enter()?;
                let (k, v) = (self.u8()?, self.u8()?);
                let n = self.count(min_size(k) + min_size(v))?;
                for _ in 0..n {
                    self.skip(k)?;
                    self.skip(v)?;
                }
                self.depth -= 1;
                Ok(())
            }
            other => err(format!("unknown Thrift type {other}")),
        }
    }
}

/// The fewest bytes a value of wire type `ty` takes.
fn min_size(ty: u8) -> usize {
    match ty {
        I16 => 2,
        I32 | STRING | LIST | SET => 4,
        I64 | DOUBLE => 8,
        MAP => 6,
        _ => 1,
    }
}

/// Deserializes one value whose wire type is known.
struct ValueDe<'i, 'b> {
    input: &'i mut Input<'b>,
    ty: u8,
}

impl<'de, 'i, 'b> de::Deserializer<'de> for ValueDe<'i, 'b> {
    type Error = ThriftError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        match self.ty {
            BOOL => v.visit_bool(self.input.u8()? != 0),
            BYTE => v.visit_i8(self.input.u8()? as i8),
            I16 => v.visit_i16(self.input.i16()?),
            I32 => v.visit_i32(self.input.i32()?),
            I64 => v.visit_i64(self.input.i64()?),
            DOUBLE => v.visit_f64(f64::from_bits(self.input.i64()? as u64)),
            STRING => {
                let b = self.input.binary()?;
                match std::str::from_utf8(b) {
                    Ok(s) => v.visit_str(s),
                    Err(_) => v.visit_bytes(b),
                }
            }
            STRUCT => self.deserialize_struct("", &[], v),
            LIST | SET => self.deserialize_seq(v),
            MAP => self.deserialize_map(v),
            other => err(format!("unknown Thrift type {other}")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        if self.ty == STRING {
            v.visit_bytes(self.input.binary()?)
        } else {
            self.deserialize_any(v)
        }
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        // A field that is there holds a value; an absent one never reaches here.
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, ThriftError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        match self.ty {
            LIST | SET => {
                self.input.enter()?;
                let ty = self.input.u8()?;
                let left = self.input.count(min_size(ty))?;
                let value = v.visit_seq(Elements {
                    input: &mut *self.input,
                    ty,
                    left,
                })?;
                self.input.depth -= 1;
                Ok(value)
            }
            // binary into a Vec<u8> that is not marked as bytes
            STRING => {
                let b = self.input.binary()?;
                v.visit_seq(de::value::SeqDeserializer::new(b.iter().copied()))
            }
            other => err(format!("expected a Thrift list, got type {other}")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ThriftError> {
        self.deserialize_seq(v)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ThriftError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        if self.ty == STRUCT {
            return self.deserialize_struct("", &[], v);
        }
        if self.ty != MAP {
            return err(format!("expected a Thrift map, got type {}", self.ty));
        }
        self.input.enter()?;
        let (key, value) = (self.input.u8()?, self.input.u8()?);
        let left = self.input.count(min_size(key) + min_size(value))?;
        let out = v.visit_map(Entries {
            input: &mut *self.input,
            key,
            value,
            left,
        })?;
        self.input.depth -= 1;
        Ok(out)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ThriftError> {
        if self.ty != STRUCT {
            return err(format!("expected a Thrift struct, got type {}", self.ty));
        }
        self.input.enter()?;
        let out = v.visit_map(Fields {
            input: &mut *self.input,
            fields,
            pending: None,
        })?;
        self.input.depth -= 1;
        Ok(out)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ThriftError> {
        match self.ty {
            I32 => {
                let i = self.input.i32()?;
                let i = u32::try_from(i).or_else(|_| err(format!("enum value {i}")))?;
                v.visit_enum(i.into_deserializer())
            }
            STRUCT => {
                // A union: one field, its id naming the variant.
                self.input.enter()?;
                let ty = self.input.u8()?;
                if ty == STOP {
                    return err("an empty union");
                }
                let id = self.input.i16()?;
                let index = u32::try_from(i32::from(id) - 1)
                    .or_else(|_| err(format!("union field id {id}")))?;
                let out = v.visit_enum(Union {
                    input: &mut *self.input,
                    index,
                    ty,
                })?;
                // Anything after the member (a writer's extra fields) is skipped.
                loop {
                    let t = self.input.u8()?;
                    if t == STOP {
                        break;
                    }
                    self.input.i16()?;
                    self.input.skip(t)?;
                }
                self.input.depth -= 1;
                Ok(out)
            }
            other => err(format!(
                "expected a Thrift enum (i32) or union, got type {other}"
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        self.input.skip(self.ty)?;
        v.visit_unit()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ThriftError> {
        self.input.skip(self.ty)?;
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, ThriftError> {
        self.deserialize_unit(v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string identifier
    }
}

struct Elements<'i, 'b> {
    input: &'i mut Input<'b>,
    ty: u8,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, '_> {
    type Error = ThriftError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ThriftError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe {
            input: &mut *self.input,
            ty: self.ty,
        })
        .map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl Drop for Elements<'_, '_> {
    fn drop(&mut self) {
        // A visitor that stopped early (a fixed-size tuple): skip what it did not read.
        while self.left > 0 {
            self.left -= 1;
            if self.input.skip(self.ty).is_err() {
                break;
            }
        }
    }
}

struct Entries<'i, 'b> {
    input: &'i mut Input<'b>,
    key: u8,
    value: u8,
    left: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = ThriftError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ThriftError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe {
            input: &mut *self.input,
            ty: self.key,
        })
        .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ThriftError> {
        seed.deserialize(ValueDe {
            input: &mut *self.input,
            ty: self.value,
        })
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The fields of a struct, named by position (`fields[id - 1]`); unknown ids are skipped.
/// Without names (a struct read into a map), keys are the ids.
struct Fields<'i, 'b> {
    input: &'i mut Input<'b>,
    fields: &'static [&'static str],
    /// The wire type of the field whose key was just read.
    pending: Option<u8>,
}

impl<'de> de::MapAccess<'de> for Fields<'_, '_> {
    type Error = ThriftError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ThriftError> {
        loop {
            let ty = self.input.u8()?;
            if ty == STOP {
                return Ok(None);
            }
            let id = self.input.i16()?;
            if self.fields.is_empty() {
                self.pending = Some(ty);
                return seed.deserialize(id.into_deserializer()).map(Some);
            }
            match usize::try_from(id).ok().and_then(|i| i.checked_sub(1)) {
                Some(i) if i < self.fields.len() => {
                    self.pending = Some(ty);
                    return seed
                        .deserialize(de::value::StrDeserializer::<ThriftError>::new(
                            self.fields[i],
                        ))
                        .map(Some);
                }
                _ => self.input.skip(ty)?,
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ThriftError> {
        let ty = self
            .pending
            .take()
            .ok_or_else(|| ThriftError("a field value without its key".into()))?;
        seed.deserialize(ValueDe {
            input: &mut *self.input,
            ty,
        })
    }
}

struct Union<'i, 'b> {
    input: &'i mut Input<'b>,
    index: u32,
    ty: u8,
}

impl<'de, 'i, 'b> de::EnumAccess<'de> for Union<'i, 'b> {
    type Error = ThriftError;
    type Variant = ValueDe<'i, 'b>;
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, ValueDe<'i, 'b>), ThriftError> {
        let variant = seed.deserialize(self.index.into_deserializer())?;
        Ok((
            variant,
            ValueDe {
                input: self.input,
                ty: self.ty,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDe<'_, '_> {
    type Error = ThriftError;
    fn unit_variant(self) -> Result<(), ThriftError> {
        self.input.skip(self.ty)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ThriftError> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, ThriftError> {
        err("enum variants with several values are not Thrift types")
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, ThriftError> {
        err("enum variants with fields are not Thrift types")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Args {
        a: i64,
        b: i64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Circle(f64),
        Name(String),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Color {
        Red,
        Green,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        flag: bool,
        small: i8,
        mid: i16,
        int: i32,
        long: i64,
        real: f64,
        text: String,
        #[serde(with = "serde_bytes")]
        blob: Vec<u8>,
        list: Vec<i32>,
        map: BTreeMap<String, Args>,
        nested: Args,
        maybe: Option<String>,
        never: Option<i32>,
        color: Color,
        shape: Shape,
    }

    fn everything() -> Everything {
        Everything {
            flag: true,
            small: -3,
            mid: 300,
            int: -70000,
            long: 1 << 40,
            real: 2.5,
            text: "héllo".into(),
            blob: vec![0, 255, 7],
            list: vec![1, -2, 3],
            map: [("x".to_string(), Args { a: 1, b: 2 })].into(),
            nested: Args { a: 7, b: 8 },
            maybe: Some("here".into()),
            never: None,
            color: Color::Green,
            shape: Shape::Name("sq".into()),
        }
    }

    #[test]
    fn args_are_encoded_as_go_thrift_writes_them() {
        let mut out = Vec::new();
        thrift_encode(&Args { a: 7, b: 8 }, &mut out).unwrap();
        // i64 field 1 = 7, i64 field 2 = 8, stop.
        let want = [
            10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 10, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0,
        ];
        assert_eq!(out, want);
        assert_eq!(thrift_decode::<Args>(&out).unwrap(), Args { a: 7, b: 8 });
    }

    #[test]
    fn every_type_round_trips() {
        let mut out = Vec::new();
        thrift_encode(&everything(), &mut out).unwrap();
        assert_eq!(thrift_decode::<Everything>(&out).unwrap(), everything());
        // The None field is not written: ids 12 (maybe) then 14 (color), no 13.
        let v: BTreeMap<i16, de::IgnoredAny> = thrift_decode(&out).unwrap();
        assert!(v.contains_key(&12) && !v.contains_key(&13) && v.contains_key(&14));
    }

    #[test]
    fn unknown_fields_are_skipped_and_integers_widen() {
        #[derive(Serialize)]
        struct Newer {
            a: i32,
            b: i32,
            extra: Vec<BTreeMap<String, String>>,
        }
        let mut out = Vec::new();
        thrift_encode(
            &Newer {
                a: 1,
                b: 2,
                extra: vec![[("k".into(), "v".into())].into()],
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(thrift_decode::<Args>(&out).unwrap(), Args { a: 1, b: 2 });
    }

    #[test]
    fn bad_payloads_are_refused() {
        assert!(thrift_decode::<Args>(&[]).is_err());
        // A string claiming 2 GB with 3 bytes left: refused before allocating.
        let lying = [11, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'a', b'b', b'c'];
        let e = thrift_decode::<BTreeMap<i16, String>>(&lying).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        // A list of 1 billion i64 in a few bytes.
        let lying = [15, 0, 1, 10, 0x3b, 0x9a, 0xca, 0x00, 0];
        assert!(thrift_decode::<BTreeMap<i16, Vec<i64>>>(&lying).is_err());
        // Negative size, unknown type, truncation.
        assert!(
            thrift_decode::<BTreeMap<i16, String>>(&[11, 0, 1, 0xff, 0xff, 0xff, 0xff]).is_err()
        );
        assert!(thrift_decode::<BTreeMap<i16, i64>>(&[99, 0, 1, 0]).is_err());
        assert!(thrift_decode::<Args>(&[10, 0, 1, 0, 0]).is_err());
        // Nesting bombs: lists in lists past the limit.
        let mut deep = vec![15u8, 0, 1];
        for _ in 0..200 {
            deep.extend_from_slice(&[15, 0, 0, 0, 1]);
        }
        let e = thrift_decode::<BTreeMap<i16, serde_json::Value>>(&deep).unwrap_err();
        assert!(e.to_string().contains("nesting"), "{e}");
    }

    #[test]
    fn only_structs_are_payloads_and_lists_are_of_one_type() {
        assert!(thrift_encode(&5i64, &mut Vec::new()).is_err());
        #[derive(Serialize)]
        struct Mixed {
            v: Vec<serde_json::Value>,
        }
        let mixed = Mixed {
            v: vec![serde_json::json!(1), serde_json::json!("x")],
        };
        assert!(thrift_encode(&mixed, &mut Vec::new()).is_err());
    }
}
