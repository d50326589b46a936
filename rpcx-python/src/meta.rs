//! Metadata between Python dicts and [`rpcx::protocol::Metadata`].

use pyo3::prelude::*;
use pyo3::types::PyDict;

use rpcx::protocol::Metadata;

/// A `metadata=` argument: a `dict[str, str]` read straight into [`Metadata`] (no map in
/// between). Anything else is a `TypeError`, worded as pyo3 words it for a dict argument.
pub(crate) struct MetaArg(Metadata);

impl MetaArg {
    /// The metadata of an optional argument; `None` is empty (and allocates nothing).
    pub(crate) fn take(arg: Option<MetaArg>) -> Metadata {
        arg.map(|m| m.0).unwrap_or_default()
    }
}

impl<'py> FromPyObject<'_, 'py> for MetaArg {
    type Error = PyErr;

    fn extract(ob: Borrowed<'_, 'py, PyAny>) -> PyResult<MetaArg> {
        let dict = ob.cast::<PyDict>()?;
        let mut pairs = Vec::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            pairs.push((k.extract::<String>()?, v.extract::<String>()?));
        }
        Ok(MetaArg(Metadata::from_pairs(pairs)))
    }
}

/// A new dict holding `md`.
pub(crate) fn metadata_dict<'py>(py: Python<'py>, md: &Metadata) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in md {
        d.set_item(k, v)?;
    }
    Ok(d)
}
