//! The decoded form of an rpcx frame.

use bytes::Bytes;

use super::{Header, MessageStatus, MessageType, Metadata, SerializeType, META_ERROR};

/// One rpcx message: header, routing names, metadata and the (uncompressed) payload.
///
/// The payload held here is always uncompressed; the header's compress type says how it is
/// (or was) compressed on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Flags, serialize type and seq.
    pub header: Header,
    /// The service name (`Arith`).
    pub service_path: String,
    /// The method name (`Mul`).
    pub service_method: String,
    /// Key/value metadata.
    pub metadata: Metadata,
    /// The payload, uncompressed.
    pub payload: Bytes,
}

impl Message {
    /// A request for `service_path.service_method` with the given serialization and payload.
    pub fn request(
        service_path: impl Into<String>,
        service_method: impl Into<String>,
        serialize: SerializeType,
        payload: impl Into<Bytes>,
    ) -> Message {
        let mut header = Header::new();
        header.set_serialize_type(serialize);
        Message {
            header,
            service_path: service_path.into(),
            service_method: service_method.into(),
            metadata: Metadata::new(),
            payload: payload.into(),
        }
    }

    /// The response skeleton for this request: the header copied with the response bit
    /// set, compression cleared and status normal, the same path and method, no metadata, no
    /// payload.
    pub fn response(&self) -> Message {
        Message {
            header: self.header.response(),
            service_path: self.service_path.clone(),
            service_method: self.service_method.clone(),
            metadata: Metadata::new(),
            payload: Bytes::new(),
        }
    }

    /// The heartbeat echo for this heartbeat request: the same message with the
    /// response bit set, compress bits kept.
    pub fn heartbeat_echo(&self) -> Message {
        let mut m = self.clone();
        m.header.set_message_type(MessageType::Response);
        m
    }

    /// Marks this response as an error carrying `text` in `__rpcx_error__`.
    pub fn set_error(&mut self, text: impl Into<String>) {
        self.header.set_status(MessageStatus::Error);
        self.metadata.insert(META_ERROR.to_owned(), text.into());
    }

    /// The error text of an error response: `Some` iff the status is Error. Like Go, an
    /// error status without `__rpcx_error__` yields an empty text.
    pub fn error(&self) -> Option<&str> {
        match self.header.status() {
            MessageStatus::Error => Some(self.metadata.get_str(META_ERROR).unwrap_or("")),
            _ => None,
        }
    }

    /// True for a heartbeat: the flag is set (Go also requires empty path and method when it
    /// sends one; a server treats any flagged frame as a heartbeat).
    pub fn is_heartbeat(&self) -> bool {
        self.header.is_heartbeat()
    }
}
