//! `scc-onnx`: the ONNX front end. An ONNX model becomes the `.sc` AST of `scc-lang` and its
//! weights under `.sc` names, so it takes the same path into the IR as a `.sc` file: the same
//! lowering, checks and diagnostics.
//!
//! - [`read_model`] / [`decode_model`]: the protobuf (`prost` types generated from the
//!   committed `proto/onnx.proto`), with every malformed input an [`OnnxError`];
//! - [`import_file`] / [`import_model`]: the graph as an [`Imported`] model (AST, comments,
//!   weights, the table of ONNX names), optionally with layers made structured
//!   ([`StructureOptions`]).
//!
//! Invariant: never panics on any input; every error names the file and the ONNX node,
//! tensor or input concerned.

mod ast_build;
mod error;
mod fold;
mod import;
mod names;
mod tensor;

pub mod proto {
    //! ONNX's protobuf messages, generated at build time from `proto/onnx.proto`.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use error::{OnnxError, UnsupportedOp};
pub use import::{
    ImportOptions, Imported, LayerStructure, NameTable, StructureOptions, StructuredLayer,
    import_model,
};

pub use names::identifier;

use prost::Message;
use std::path::Path;

/// Decodes the bytes of an ONNX file; `origin` is quoted in errors.
pub fn decode_model(bytes: &[u8], origin: &str) -> Result<proto::ModelProto, OnnxError> {
    let model = proto::ModelProto::decode(bytes).map_err(|e| OnnxError::Malformed {
        origin: origin.to_string(),
        reason: format!("the protobuf does not decode ({e})"),
    })?;
    if model.graph.is_none() {
        return Err(OnnxError::Malformed {
            origin: origin.to_string(),
            reason: "it holds no graph".to_string(),
        });
    }
    Ok(model)
}

/// Reads and decodes an ONNX file.
pub fn read_model(path: &Path) -> Result<proto::ModelProto, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode_model(&bytes, &path.display().to_string())
}

/// Reads an ONNX file and imports it; external data files are read relative to its folder.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Imported, OnnxError> {
    let model = read_model(path)?;
    let dir = path.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    import_model(&model, &path.display().to_string(), dir, options)
}
