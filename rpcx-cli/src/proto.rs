//! `--proto`: .proto files compiled in-process (protox, no protoc), the request and reply
//! messages of `rpc Method` in `service Service`, and their JSON forms (prost-reflect's
//! DynamicMessage with the proto3 JSON mapping).

use std::path::PathBuf;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, ReflectMessage,
    SerializeOptions, Value,
};

use crate::failure::Failure;

/// The request and reply messages of one method of a .proto `service`.
pub(crate) struct ProtoMethod {
    /// `Service.Method` as written in the .proto file (with its package), for messages.
    name: String,
    input: MessageDescriptor,
    output: MessageDescriptor,
    emit_defaults: bool,
}

/// Compiles `files` (imports looked up in `import_paths`, or in each file's directory when
/// none is given). A file that does not compile is bad input with the compiler's message
/// (`file.proto:line:column: …`).
pub(crate) fn compile(
    files: &[PathBuf],
    import_paths: &[PathBuf],
) -> Result<DescriptorPool, Failure> {
    let mut includes: Vec<PathBuf> = Vec::new();
    if import_paths.is_empty() {
        for f in files {
            let dir = match f.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !includes.contains(&dir) {
                includes.push(dir);
            }
        }
    } else {
        includes.extend(import_paths.iter().cloned());
    }
    for dir in &includes {
        if !dir.is_dir() {
            return Err(Failure::Input(format!(
                "--import-path {}: not a directory",
                dir.display()
            )));
        }
    }
    let compile_error = |e: protox::Error| {
        // protox's Debug form is its report for people: `file.proto:line:column: message`
        // (Display drops the location).
        Failure::Input(format!("--proto: {e:?}"))
    };
    let mut compiler = protox::Compiler::new(&includes).map_err(compile_error)?;
    compiler.include_imports(true);
    for f in files {
        if f.is_dir() {
            return Err(Failure::Input(format!(
                "--proto {}: a directory, not a .proto file",
                f.display()
            )));
        }
        if !f.exists() {
            return Err(Failure::Input(format!(
                "--proto {}: no such file",
                f.display()
            )));
        }
        compiler.open_file(f).map_err(compile_error)?;
    }
    Ok(compiler.descriptor_pool())
}

/// The method `method` of the service named `service` (the rpcx service path: the .proto
/// name without package; a package-qualified name matches too). Unknown names, or a name
/// that several packages define, are bad input naming what the files offer.
pub(crate) fn method(
    pool: &DescriptorPool,
    service: &str,
    method: &str,
    emit_defaults: bool,
) -> Result<ProtoMethod, Failure> {
    let found: Vec<_> = pool
        .services()
        .filter(|s| s.name() == service || s.full_name() == service)
        .collect();
    let svc = match found.as_slice() {
        [one] => one.clone(),
        [] => {
            let names: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
            return Err(Failure::Input(format!(
                "--proto: no service {service:?} in the .proto files ({})",
                if names.is_empty() {
                    "they define no service".to_owned()
                } else {
                    format!("services: {}", names.join(", "))
                }
            )));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|s| s.full_name()).collect();
            return Err(Failure::Input(format!(
                "--proto: service {service:?} is defined more than once ({}): give only the \
                 .proto file of the one to call",
                names.join(", ")
            )));
        }
    };
    let Some(m) = svc.methods().find(|m| m.name() == method) else {
        let names: Vec<String> = svc.methods().map(|m| m.name().to_owned()).collect();
        return Err(Failure::Input(format!(
            "--proto: service {} has no rpc {method:?} (it has: {})",
            svc.full_name(),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    };
    if m.is_client_streaming() || m.is_server_streaming() {
        return Err(Failure::Input(format!(
            "--proto: {}.{} streams: rpcx calls take one request and one reply",
            svc.full_name(),
            m.name()
        )));
    }
    Ok(ProtoMethod {
        name: format!("{}.{}", svc.full_name(), m.name()),
        input: m.input(),
        output: m.output(),
        emit_defaults,
    })
}

impl ProtoMethod {
    /// The request: JSON (proto3 JSON mapping) of the input message → its protobuf bytes.
    /// JSON that does not fit the message (an unknown field, a value of the wrong type) is
    /// bad input; the message says which field.
    pub(crate) fn encode(&self, json: &[u8], from: &str) -> Result<Vec<u8>, Failure> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let msg = DynamicMessage::deserialize(self.input.clone(), &mut de)
            .and_then(|m| de.end().map(|_| m))
            .map_err(|e| {
                // prost-reflect names unknown fields but not a field whose value has the
                // wrong type: find that field by decoding the fields one at a time.
                let at = serde_json::from_slice::<serde_json::Value>(json)
                    .ok()
                    .and_then(|v| culprit(&self.input, &v, ""))
                    .map(|(path, e)| format!("field {path:?}: {e}"))
                    .unwrap_or_else(|| e.to_string());
                Failure::Input(format!(
                    "{from} do not fit {} (the request of {}): {at}",
                    self.input.full_name(),
                    self.name
                ))
            })?;
        // proto2 `required` fields: Go's peer refuses a message without them, so say it here.
        let mut missing = Vec::new();
        missing_required(&msg, "", &mut missing);
        if !missing.is_empty() {
            return Err(Failure::Input(format!(
                "{from} do not fit {} (the request of {}): missing required field{} {}",
                self.input.full_name(),
                self.name,
                if missing.len() == 1 { "" } else { "s" },
                missing
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(msg.encode_to_vec())
    }

    /// The reply: protobuf bytes of the output message → its message.
    fn decode_message(&self, payload: &[u8]) -> Result<DynamicMessage, String> {
        DynamicMessage::decode(self.output.clone(), payload).map_err(|e| {
            format!(
                "reply is not a {} (the reply of {}): {e}",
                self.output.full_name(),
                self.name
            )
        })
    }

    fn serialize_options(&self) -> SerializeOptions {
        SerializeOptions::new().skip_default_fields(!self.emit_defaults)
    }

    /// The reply as a JSON value (for the lines of an inform).
    pub(crate) fn decode(&self, payload: &[u8]) -> Result<serde_json::Value, String> {
        self.decode_message(payload)?
            .serialize_with_options(serde_json::value::Serializer, &self.serialize_options())
            .map_err(|e| format!("reply: {e}"))
    }

    /// The reply as JSON text, its fields in the order of their numbers in the .proto file.
    pub(crate) fn decode_text(&self, payload: &[u8]) -> Result<String, String> {
        let msg = self.decode_message(payload)?;
        let mut out = Vec::new();
        msg.serialize_with_options(
            &mut serde_json::Serializer::new(&mut out),
            &self.serialize_options(),
        )
        .map_err(|e| format!("reply: {e}"))?;
        String::from_utf8(out).map_err(|e| format!("reply: {e}"))
    }
}

/// The first field of the JSON object `value` that does not decode as a field of `desc`,
/// as its path (`a.b[2].c`) and the decoder's error; `None` when each field decodes alone
/// (or `value` is not an object: the whole-message error says that).
fn culprit(
    desc: &MessageDescriptor,
    value: &serde_json::Value,
    prefix: &str,
) -> Option<(String, String)> {
    let obj = value.as_object()?;
    for (key, v) in obj {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let mut one = serde_json::Map::new();
        one.insert(key.clone(), v.clone());
        let Err(e) = DynamicMessage::deserialize(desc.clone(), serde_json::Value::Object(one))
        else {
            continue;
        };
        // Look inside a nested message (not the well-known types: their JSON is special).
        let field = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key));
        if let Some(field) = field {
            if let Kind::Message(inner) = field.kind() {
                if !inner.full_name().starts_with("google.protobuf.") && !field.is_map() {
                    let deeper = match v {
                        serde_json::Value::Array(items) if field.is_list() => items
                            .iter()
                            .enumerate()
                            .find_map(|(i, item)| culprit(&inner, item, &format!("{path}[{i}]"))),
                        _ if !field.is_list() => culprit(&inner, v, &path),
                        _ => None,
                    };
                    if deeper.is_some() {
                        return deeper;
                    }
                }
            }
        }
        return Some((path, e.to_string()));
    }
    None
}

/// The paths (`a.b[2].c`, by JSON name) of the proto2 `required` fields not set in `msg` and
/// in the messages set inside it.
fn missing_required(msg: &DynamicMessage, prefix: &str, out: &mut Vec<String>) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    for field in msg.descriptor().fields() {
        if field.is_required() && !msg.has_field(&field) {
            out.push(join(field.json_name()));
        }
    }
    for (field, value) in msg.fields() {
        let path = join(field.json_name());
        match value {
            Value::Message(m) => missing_required(m, &path, out),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Message(m) = item {
                        missing_required(m, &format!("{path}[{i}]"), out);
                    }
                }
            }
            Value::Map(entries) => {
                for (key, item) in entries {
                    if let Value::Message(m) = item {
                        let key = match key {
                            MapKey::Bool(b) => b.to_string(),
                            MapKey::I32(n) => n.to_string(),
                            MapKey::I64(n) => n.to_string(),
                            MapKey::U32(n) => n.to_string(),
                            MapKey::U64(n) => n.to_string(),
                            MapKey::String(t) => format!("{t:?}"),
                        };
                        missing_required(m, &format!("{path}[{key}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
}
