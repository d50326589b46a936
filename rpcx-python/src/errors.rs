//! rpcx errors as the exception classes of `rpcx/errors.py`.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use rpcx::protocol::Metadata;

use crate::meta::metadata_dict;

/// Instantiates `rpcx.errors.<class>(message, metadata=..., payload=..., code=...)` as a
/// `PyErr`.
pub(crate) fn rpc_error(
    py: Python<'_>,
    class: &str,
    message: &str,
    metadata: Option<&Metadata>,
    payload: Option<&[u8]>,
    code: Option<&str>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("rpcx.errors")?.getattr(class)?;
        let kwargs = PyDict::new(py);
        if let Some(md) = metadata {
            kwargs.set_item("metadata", metadata_dict(py, md)?)?;
        }
        if let Some(p) = payload {
            kwargs.set_item("payload", PyBytes::new(py, p))?;
        }
        if let Some(c) = code {
            kwargs.set_item("code", c)?;
        }
        let exc = cls.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// The exception for `err`.
pub(crate) fn to_py(py: Python<'_>, err: rpcx::Error) -> PyErr {
    use rpcx::Error as E;
    match err {
        E::Server(e) => rpc_error(
            py,
            "ServiceError",
            &e.message,
            Some(&e.metadata),
            Some(&e.payload),
            None,
        ),
        E::Timeout(_) => rpc_error(py, "RpcTimeoutError", &err.to_string(), None, None, None),
        E::Closed | E::XClientShutdown => {
            rpc_error(py, "ClosedError", &err.to_string(), None, None, None)
        }
        E::ConnectionLost(_) | E::Connect { .. } | E::Io(_) | E::NoServer | E::BreakerOpen(_) => {
            rpc_error(py, "RpcConnectionError", &err.to_string(), None, None, None)
        }
        E::Codec(_) => rpc_error(py, "SerializationError", &err.to_string(), None, None, None),
        E::Address(_) | E::Config(_) => PyValueError::new_err(err.to_string()),
        E::BlockingInRuntime => PyRuntimeError::new_err(err.to_string()),
        other => rpc_error(py, "RpcError", &other.to_string(), None, None, None),
    }
}

/// `ClosedError(message)`.
pub(crate) fn closed(py: Python<'_>, message: &str) -> PyErr {
    rpc_error(py, "ClosedError", message, None, None, None)
}

/// The error raised when an object made before `fork()` is used in the child.
pub(crate) fn forked(py: Python<'_>, what: &str) -> PyErr {
    closed(
        py,
        &format!(
            "this {what} was created in the parent process before fork(); create a new one in the child"
        ),
    )
}
