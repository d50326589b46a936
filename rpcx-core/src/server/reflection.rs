//! A reflection service compatible with Go rpcx's `reflection` package (v1.9.4): the service
//! `Reflection` with `GetServices` (every service) and `GetService(name)` (one), both taking a
//! string and answering a string of Go source-like text:
//!
//! ```text
//! package rpcx
//!
//! type Arith struct{}
//!
//!
//! type Args struct {
//!     A int64
//!     B int64
//! }
//!
//! type Reply struct {
//!     C int64
//! }
//!
//! type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {
//!     return nil
//! }
//! ```
//!
//! (tab-indented, in the shape of Go's template, `type (s *…)` included). Enable it with
//! [`Server::enable_reflection`](super::Server::enable_reflection): it reads the server's live
//! service table on every call, so services registered or unregistered later, while the server
//! runs, are described as they are then. Typed handlers are described by their Rust argument
//! and reply types (named only; [`Reflection::describe_typed`] adds Go-like struct fields from
//! a type's JSON form), raw ones as `[]byte`; [`Reflection::describe`] sets any method's
//! description.
//!
//! Wire shapes, as Go's: the argument and the reply are strings coded with the caller's
//! serialization (JSON `""`, MsgPack str…); `GetServices` ignores its argument; an unknown
//! service answers the error `not found service <name>`. With raw serialization (type 0, the
//! C client's default) — where Go fails, as a Go string is not a `[]byte` — the argument is
//! taken as UTF-8 text and the reply is the text's bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use serde::Serialize;

use super::handle::Shared;
use super::handler::{BoxFuture, Handler, HandlerResult, ServiceError};
use super::registry::ServiceMap;
use super::Context;
use crate::codec::Codable;
use crate::protocol::SerializeType;

/// The service name Go applications register the reflection object under
/// (`s.Register(reflection.New(), "")` names it after its type).
pub const SERVICE: &str = "Reflection";

/// What reflection says about one side of a method: its type's name in the method line
/// (`Args`, `[]byte`, `string`) and an optional definition printed before it (Go-like
/// `type Args struct {…}`, or any text such as a `//` comment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeDescription {
    /// The name in `arg *NAME` / `reply *NAME`.
    pub name: String,
    /// Text printed before the method line; empty for none.
    pub definition: String,
}

impl TypeDescription {
    /// A type known by name only.
    pub fn named(name: impl Into<String>) -> TypeDescription {
        TypeDescription {
            name: name.into(),
            definition: String::new(),
        }
    }

    /// A name and its definition text (a trailing newline is added when missing).
    pub fn with_definition(
        name: impl Into<String>,
        definition: impl Into<String>,
    ) -> TypeDescription {
        let mut definition = definition.into();
        if !definition.is_empty() && !definition.ends_with('\n') {
            definition.push('\n');
        }
        TypeDescription {
            name: name.into(),
            definition,
        }
    }

    /// Raw payload bytes (`[]byte`).
    pub fn bytes() -> TypeDescription {
        TypeDescription::named("[]byte")
    }

    /// The Rust type `T`, by name: Go's name for primitives and common containers (`int64`,
    /// `string`, `[]byte`, `[]T`, `map[K]V`, `*T` for `Option<T>`), else the last segment of
    /// its path (`rpcx::arith::Args` → `Args`).
    pub fn of<T: ?Sized>() -> TypeDescription {
        TypeDescription::named(go_name(std::any::type_name::<T>()))
    }

    /// The Rust type `T` with a Go struct definition derived from the JSON form of
    /// `T::default()`, as Go derives its definitions from the zero value's JSON.
    pub fn of_default<T: Serialize + Default>() -> TypeDescription {
        let name = go_name(std::any::type_name::<T>());
        match serde_json::to_value(T::default()) {
            Ok(sample) => TypeDescription::from_json_sample(&name, &sample),
            Err(_) => TypeDescription::named(name),
        }
    }

    /// `name` defined from a JSON sample value: an object becomes `type NAME struct {…}` with
    /// one field per key (integers `int64`, other numbers `float64`, `string`, `bool`, arrays
    /// `[]T` from their first element, nested objects inline, `null` `any`); other values
    /// give the name only, or the Go type of a scalar when `name` is empty.
    pub fn from_json_sample(name: &str, sample: &serde_json::Value) -> TypeDescription {
        match sample {
            serde_json::Value::Object(fields) => {
                let mut def = format!("type {name} ");
                write_struct(&mut def, fields, 0);
                def.push('\n');
                TypeDescription {
                    name: name.to_owned(),
                    definition: def,
                }
            }
            other if name.is_empty() => TypeDescription::named(json_go_type(other, 0)),
            _ => TypeDescription::named(name),
        }
    }
}

/// The arguments and reply of one method.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodDescription {
    /// The argument.
    pub args: TypeDescription,
    /// The reply.
    pub reply: TypeDescription,
}

impl MethodDescription {
    /// A method taking `args` and answering `reply`.
    pub fn new(args: TypeDescription, reply: TypeDescription) -> MethodDescription {
        MethodDescription { args, reply }
    }

    /// Raw bytes in, raw bytes out.
    pub fn raw() -> MethodDescription {
        MethodDescription::new(TypeDescription::bytes(), TypeDescription::bytes())
    }
}

/// The reflection service of one server: hand out by
/// [`Server::enable_reflection`](super::Server::enable_reflection). Cheap to clone; every
/// clone is the same service. Thread-safe. It serves one server at a time:
/// [`Server::add_reflection`](super::Server::add_reflection) refuses it while another server
/// holds it (built with it and not dropped, or running and not shut down).
#[derive(Clone, Default)]
pub struct Reflection {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The running server (set when it starts; weak: the server owns this service).
    server: Mutex<Weak<Shared>>,
    /// The claim of the server holding this service (kept alive by its handlers there).
    owner: Mutex<Weak<Claim>>,
    /// Descriptions given with `describe`, by service then method.
    described: Mutex<HashMap<String, HashMap<String, MethodDescription>>>,
}

/// What a server holding a [`Reflection`] keeps alive (in its handlers) to say so.
pub(crate) struct Claim;

/// The package line of the text.
const PACKAGE: &str = "rpcx";

impl Reflection {
    /// A reflection service not attached to a server yet
    /// ([`Server::add_reflection`](super::Server::add_reflection) attaches it).
    pub fn new() -> Reflection {
        Reflection::default()
    }

    /// Sets how `service.method` is described (replacing the handler's own description or an
    /// earlier one). Any time, for methods registered or not yet.
    pub fn describe(&self, service: &str, method: &str, description: MethodDescription) {
        self.inner
            .described
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(service.to_owned())
            .or_default()
            .insert(method.to_owned(), description);
    }

    /// Describes `service.method` as taking `A` and answering `R`, with Go-like struct
    /// definitions from their JSON forms ([`TypeDescription::of_default`]).
    pub fn describe_typed<A, R>(&self, service: &str, method: &str)
    where
        A: Serialize + Default,
        R: Serialize + Default,
    {
        self.describe(
            service,
            method,
            MethodDescription::new(TypeDescription::of_default::<A>(), {
                TypeDescription::of_default::<R>()
            }),
        );
    }

    /// Whether `other` is this same service (a clone).
    pub(crate) fn same_as(&self, other: &Reflection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Claims this service for a server: refused while another server holds it, unless that
    /// one is shutting down or stopped.
    pub(crate) fn claim(&self) -> Result<Arc<Claim>, crate::Error> {
        let mut owner = self.inner.owner.lock().unwrap_or_else(|p| p.into_inner());
        if owner.upgrade().is_some() {
            let mut server = self.inner.server.lock().unwrap_or_else(|p| p.into_inner());
            let stopping = server.upgrade().is_some_and(|s| s.draining.is_cancelled());
            if !stopping {
                return Err(crate::Error::Registration(
                    "this Reflection already serves another server: make one per server \
                     (Reflection::new or Server::enable_reflection)"
                        .into(),
                ));
            }
            *server = Weak::new();
        }
        let claim = Arc::new(Claim);
        *owner = Arc::downgrade(&claim);
        Ok(claim)
    }

    /// Points this service at a running server's table.
    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        *self.inner.server.lock().unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(shared);
    }

    /// The services of the attached server (none before it starts).
    fn services(&self) -> Option<Arc<ServiceMap>> {
        let weak = self
            .inner
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        weak.upgrade().map(|s| s.services.snapshot())
    }

    /// `GetService(name)`'s text, or Go's error text for an unknown service.
    pub fn service_text(&self, name: &str) -> Result<String, String> {
        let map = self.services().unwrap_or_default();
        match map.services.get(name) {
            Some(entry) if !entry.methods.is_empty() => {
                // A copy: the handlers' `describe` (user code) runs without the lock held.
                let described = self.described_lock().get(name).cloned();
                let mut out = format!("package {PACKAGE}\n\n");
                self.write_service(&mut out, name, entry, described.as_ref());
                Ok(out)
            }
            _ => Err(format!("not found service {name}")),
        }
    }

    /// `GetServices`' text: one package line, then every service sorted by name (Go's order
    /// is its map's; the shape is the same).
    pub fn services_text(&self) -> String {
        let map = self.services().unwrap_or_default();
        // A copy: the handlers' `describe` (user code) runs without the lock held.
        let described = self.described_lock().clone();
        let mut out = String::new();
        for name in map.service_names() {
            let entry = &map.services[name];
            if entry.methods.is_empty() {
                continue;
            }
            if out.is_empty() {
                out = format!("package {PACKAGE}\n\n");
            }
            self.write_service(&mut out, name, entry, described.get(name));
        }
        out
    }

    fn described_lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, MethodDescription>>> {
        self.inner
            .described
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// One service in the shape of Go's template (without its package line).
    fn write_service(
        &self,
        out: &mut String,
        name: &str,
        entry: &super::ServiceEntry,
        described: Option<&HashMap<String, MethodDescription>>,
    ) {
        let _ = write!(out, "type {name} struct{{}}\n\n");
        let methods: BTreeMap<&str, _> =
            entry.methods.iter().map(|(m, h)| (m.as_str(), h)).collect();
        for (method, handler) in methods {
            let d = described
                .and_then(|s| s.get(method))
                .cloned()
                .or_else(|| handler.describe())
                .unwrap_or_else(MethodDescription::raw);
            let _ = write!(
                out,
                "\n{}\n{}\ntype (s *{name}) {method}(ctx context.Context, arg *{}, reply *{}) error {{\n\treturn nil\n}}\n",
                d.args.definition, d.reply.definition, d.args.name, d.reply.name
            );
        }
        out.push('\n');
    }

    /// The `GetServices` and `GetService` handlers.
    pub(crate) fn handlers(&self, claim: &Arc<Claim>) -> [(&'static str, Arc<dyn Handler>); 2] {
        [
            (
                "GetServices",
                Arc::new(Method {
                    reflection: self.clone(),
                    _claim: Arc::clone(claim),
                    one: false,
                }),
            ),
            (
                "GetService",
                Arc::new(Method {
                    reflection: self.clone(),
                    _claim: Arc::clone(claim),
                    one: true,
                }),
            ),
        ]
    }
}

/// `GetServices` (`one == false`) or `GetService`.
struct Method {
    reflection: Reflection,
    /// Holds the service for the server these handlers are registered on.
    _claim: Arc<Claim>,
    one: bool,
}

impl Handler for Method {
    fn call(&self, ctx: Context, payload: Bytes) -> BoxFuture<HandlerResult> {
        let st = ctx.serialize_type();
        let result = (|| {
            let text = if self.one {
                let name = if st == SerializeType::RAW {
                    std::str::from_utf8(&payload)
                        .map_err(|_| ServiceError::new("the service name is not UTF-8"))?
                        .to_owned()
                } else {
                    String::decode_as(st, &payload)?
                };
                self.reflection
                    .service_text(&name)
                    .map_err(ServiceError::new)?
            } else {
                self.reflection.services_text()
            };
            if st == SerializeType::RAW {
                return Ok(Bytes::from(text.into_bytes()));
            }
            let mut out = Vec::new();
            text.encode_as(st, &mut out)?;
            Ok(Bytes::from(out))
        })();
        Box::pin(std::future::ready(result))
    }

    fn describe(&self) -> Option<MethodDescription> {
        Some(MethodDescription::new(
            TypeDescription::named("string"),
            TypeDescription::named("string"),
        ))
    }
}

/// Go's name for a Rust type name (see [`TypeDescription::of`]).
fn go_name(rust: &str) -> String {
    let rust = rust.trim();
    let (base, params) = match rust.find('<') {
        Some(i) if rust.ends_with('>') => (&rust[..i], split_params(&rust[i + 1..rust.len() - 1])),
        _ => (rust, Vec::new()),
    };
    let last = base.rsplit("::").next().unwrap_or(base);
    let prim = match last {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "f32" | "f64" | "bool" => {
            Some(match last {
                "f32" => "float32",
                "f64" => "float64",
                "bool" => "bool",
                s => {
                    return format!(
                        "{}int{}",
                        if s.starts_with('u') { "u" } else { "" },
                        &s[1..]
                    )
                }
            })
        }
        "isize" => Some("int"),
        "usize" => Some("uint"),
        "String" | "str" | "&str" => Some("string"),
        "Bytes" | "BytesMut" | "ByteBuf" => Some("[]byte"),
        "()" => Some("struct{}"),
        _ => None,
    };
    if let Some(p) = prim {
        return p.to_owned();
    }
    match (last, params.as_slice()) {
        ("Vec" | "VecDeque" | "HashSet" | "BTreeSet", [t]) => {
            let t = go_name(t);
            if t == "uint8" {
                "[]byte".to_owned()
            } else {
                format!("[]{t}")
            }
        }
        ("HashMap" | "BTreeMap", [k, v, ..]) => format!("map[{}]{}", go_name(k), go_name(v)),
        ("Option" | "Box" | "Arc", [t]) => {
            let t = go_name(t);
            if last == "Option" {
                format!("*{t}")
            } else {
                t
            }
        }
        ("Value", []) if base.contains("serde_json") => "any".to_owned(),
        _ => last.to_owned(),
    }
}

/// Splits generic parameters at top-level commas.
fn split_params(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

/// `struct {\n\tField Type\n}` for a JSON object, indented `depth` levels.
fn write_struct(
    out: &mut String,
    fields: &serde_json::Map<String, serde_json::Value>,
    depth: usize,
) {
    if fields.is_empty() {
        out.push_str("struct{}");
        return;
    }
    let rows: Vec<(String, String, &str)> = fields
        .iter()
        .map(|(k, v)| (go_field(k), json_go_type(v, depth + 1), k.as_str()))
        .collect();
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    out.push_str("struct {\n");
    for (field, ty, key) in rows {
        out.push_str(&"\t".repeat(depth + 1));
        let _ = write!(out, "{field:width$} {ty}");
        if field != key {
            let _ = write!(out, " `json:\"{key}\"`");
        }
        out.push('\n');
    }
    out.push_str(&"\t".repeat(depth));
    out.push('}');
}

/// Go's type for a JSON sample value.
fn json_go_type(v: &serde_json::Value, depth: usize) -> String {
    use serde_json::Value;
    match v {
        Value::Null => "any".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64".to_owned(),
        Value::Number(_) => "float64".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Array(items) => match items.first() {
            Some(first) => format!("[]{}", json_go_type(first, depth)),
            None => "[]any".to_owned(),
        },
        Value::Object(fields) => {
            let mut s = String::new();
            write_struct(&mut s, fields, depth);
            s
        }
    }
}

/// An exported Go field name for a JSON key (`count` → `Count`, `max-size` → `MaxSize`).
fn go_field(key: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in key.chars() {
        if c.is_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    match out.chars().next() {
        None => "X".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("X{out}"),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_go_names() {
        assert_eq!(go_name("rpcx::arith::Args"), "Args");
        assert_eq!(go_name("i64"), "int64");
        assert_eq!(go_name("u32"), "uint32");
        assert_eq!(go_name("alloc::string::String"), "string");
        assert_eq!(go_name("alloc::vec::Vec<u8>"), "[]byte");
        assert_eq!(go_name("bytes::bytes::Bytes"), "[]byte");
        assert_eq!(
            go_name(
                "std::collections::hash::map::HashMap<alloc::string::String, alloc::vec::Vec<i32>>"
            ),
            "map[string][]int32"
        );
        assert_eq!(go_name("core::option::Option<my::Thing<u8>>"), "*Thing");
        assert_eq!(go_name("serde_json::value::Value"), "any");
    }

    #[test]
    fn json_samples_become_structs() {
        let d = TypeDescription::from_json_sample(
            "Req",
            &serde_json::json!({"A": 0, "name": "", "ratio": 0.5, "tags": ["x"], "inner": {"ok": true}, "n": null}),
        );
        assert_eq!(d.name, "Req");
        assert_eq!(
            d.definition,
            "type Req struct {\n\tA     int64\n\tInner struct {\n\t\tOk bool `json:\"ok\"`\n\t} `json:\"inner\"`\n\tN     any `json:\"n\"`\n\tName  string `json:\"name\"`\n\tRatio float64 `json:\"ratio\"`\n\tTags  []string `json:\"tags\"`\n}\n"
        );
        assert_eq!(
            TypeDescription::from_json_sample("", &serde_json::json!(1.5)).name,
            "float64"
        );
        assert_eq!(go_field("max-size"), "MaxSize");
        assert_eq!(go_field("9lives"), "X9lives");
    }
}
