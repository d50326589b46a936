//! Compressors written in Python: two callables registered for a compress type, called from
//! rpcx runtime threads (with the GIL taken there) whenever a frame of that type is encoded
//! or decoded.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use std::sync::Arc;

use rpcx::protocol::{
    is_compress_type_supported, register_compressor as core_register,
    unregister_compressor as core_unregister, CompressType, Compressor, CompressorError,
};

/// A compress type from its number (0-7).
pub(crate) fn compress_type(n: u8) -> PyResult<CompressType> {
    CompressType::new(n)
        .ok_or_else(|| PyValueError::new_err(format!("compress type {n} is not 0-7")))
}

struct PyCompressor {
    compress: Py<PyAny>,
    decompress: Py<PyAny>,
}

/// Calls `f(*args)` with the GIL and takes its result as bytes.
fn call(
    f: &Py<PyAny>,
    what: &str,
    args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyTuple>>,
) -> Result<Vec<u8>, CompressorError> {
    let result = Python::try_attach(|py| -> Result<Vec<u8>, String> {
        let describe = |e: PyErr| {
            let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
            let name = e
                .get_type(py)
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "Exception".into());
            if text.is_empty() {
                name
            } else {
                format!("{name}: {text}")
            }
        };
        let args = args(py).map_err(describe)?;
        let out = f.bind(py).call1(args).map_err(describe)?;
        let bytes: PyBackedBytes = out.extract().map_err(|_| {
            format!(
                "the {what} callable must return bytes or bytearray, not {}",
                out.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            )
        })?;
        Ok(bytes.to_vec())
    });
    match result {
        None => Err(CompressorError::Failed(
            "the Python interpreter is not available (shutting down)".into(),
        )),
        Some(r) => r.map_err(CompressorError::Failed),
    }
}

impl Compressor for PyCompressor {
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CompressorError> {
        call(&self.compress, "compress", |py| {
            pyo3::types::PyTuple::new(py, [PyBytes::new(py, data)])
        })
    }

    fn decompress(&self, data: &[u8], max_len: usize) -> Result<Vec<u8>, CompressorError> {
        let out = call(&self.decompress, "decompress", |py| {
            pyo3::types::PyTuple::new(
                py,
                [
                    PyBytes::new(py, data).into_any(),
                    max_len.into_pyobject(py)?.into_any(),
                ],
            )
        })?;
        if out.len() > max_len {
            return Err(CompressorError::TooLarge);
        }
        Ok(out)
    }
}

/// Registers `compress(data) -> bytes` and `decompress(data, max_len) -> bytes` for compress
/// type 2-7, process-wide (replacing what was registered there, snappy at 2 included).
#[pyfunction]
pub(crate) fn register_compressor(
    compress_type: u8,
    compress: Bound<'_, PyAny>,
    decompress: Bound<'_, PyAny>,
) -> PyResult<()> {
    let ct = self::compress_type(compress_type)?;
    if ct.value() < 2 {
        return Err(PyValueError::new_err(format!(
            "compress type {compress_type} is built in (0 none, 1 gzip); register at 2-7"
        )));
    }
    for (name, f) in [("compress", &compress), ("decompress", &decompress)] {
        if !f.is_callable() {
            return Err(PyTypeError::new_err(format!("{name} must be callable")));
        }
    }
    let c = PyCompressor {
        compress: compress.unbind(),
        decompress: decompress.unbind(),
    };
    core_register(ct, Arc::new(c)).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(())
}

/// Removes the compressor of compress type 2-7; `False` when none was registered.
#[pyfunction]
pub(crate) fn unregister_compressor(compress_type: u8) -> PyResult<bool> {
    let ct = self::compress_type(compress_type)?;
    if ct.value() < 2 {
        return Err(PyValueError::new_err(format!(
            "compress type {compress_type} is built in (0 none, 1 gzip)"
        )));
    }
    Ok(core_unregister(ct).is_some())
}

/// True when frames of this compress type can be sent and received now.
#[pyfunction]
pub(crate) fn compressor_available(compress_type: u8) -> bool {
    CompressType::new(compress_type).is_some_and(is_compress_type_supported)
}
