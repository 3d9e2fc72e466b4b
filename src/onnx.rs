//! ONNX models in the facade: [`Model::from_onnx`] (the model with its weights), and
//! [`import_onnx`], which writes the `.sc` text and the weights file of `scc import`.
//!
//! An ONNX model is imported into the `.sc` AST by `scc-onnx`, printed, and parsed and lowered
//! like any `.sc` file, so diagnostics point into the printed text (each `let` carries a
//! comment naming its ONNX node). The lowered graph's inputs and outputs are then renamed to
//! the ONNX graph's names (`input.1`, `648`), so inputs are read and outputs saved by those.

use crate::{BindOptions, BindReport, Error, LowerOptions, Model, SourceFile, Tensor, Weights};
use scc_onnx::{ImportOptions, Imported, NameTable, StructureOptions, StructuredLayer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How an ONNX model is imported.
#[derive(Debug, Clone, Default)]
pub struct OnnxOptions {
    /// Shapes by ONNX input name: fix symbolic dimensions (`batch`) or replace declared shapes.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Which conv and linear layers become structured (default: none).
    pub structure: StructureOptions,
}

fn import(path: &Path, options: &OnnxOptions) -> Result<Imported, Error> {
    let model_name = path
        .file_stem()
        .map(|s| scc_onnx::identifier(&s.to_string_lossy()));
    let import_options = ImportOptions {
        input_shapes: options.input_shapes.clone(),
        structure: options.structure.clone(),
        model_name,
    };
    Ok(scc_onnx::import_file(path, &import_options)?)
}

impl Model {
    /// Imports an ONNX file (external data read relative to it): the model, lowered, with
    /// its initializers as embedded weights ([`Model::bind_embedded_weights`]); inputs and
    /// outputs carry the ONNX graph's names.
    pub fn from_onnx(path: impl AsRef<Path>, options: &OnnxOptions) -> Result<Model, Error> {
        let path = path.as_ref();
        let imported = import(path, options)?;
        let source = SourceFile::new(
            format!("{} (imported)", path.display()),
            imported.source_text(),
        );
        let mut model = Model::from_source_file(source, None, &LowerOptions::default())?;
        apply_names(&mut model, &imported.names);
        model.embedded = Some(Arc::new(imported.weights));
        Ok(model)
    }

    /// The weights that came with the model (an ONNX file's initializers), by `.sc` name.
    pub fn embedded_weights(&self) -> Option<&BTreeMap<String, Tensor>> {
        self.embedded.as_deref()
    }

    /// Binds the embedded weights (checked like a weights file); `None` for a `.sc` model.
    pub fn bind_embedded_weights(
        &self,
        options: &BindOptions,
    ) -> Result<Option<(Weights, BindReport)>, Error> {
        let Some(embedded) = &self.embedded else {
            return Ok(None);
        };
        let (weights, report) = scc_compiler::weights::bind(
            &self.graph,
            embedded.as_ref().clone(),
            &self.source.name,
            options,
        )?;
        Ok(Some((weights, report)))
    }
}

/// The structure advisor on a model with trained weights: every dense conv and linear layer's
/// candidate structures, scored (see [`scc_compiler::advise`]); serialisable (serde).
pub fn advise(model: &Model, weights: &Weights, tolerance: f64) -> scc_compiler::advise::Advice {
    scc_compiler::advise::advise(model.graph(), weights, tolerance)
}

/// [`advise`] with the weights file's own tensors (by `.sc` weight name, see
/// [`scc_compiler::weights::sc_weight_name`]): a structured layer given a dense `weight` is
/// scored by that kernel as given, not by its projection.
pub fn advise_with_kernels(
    model: &Model,
    weights: &Weights,
    dense_kernels: &std::collections::BTreeMap<String, scc_runtime::Tensor>,
    tolerance: f64,
) -> scc_compiler::advise::Advice {
    scc_compiler::advise::advise_with_kernels(model.graph(), weights, dense_kernels, tolerance)
}

/// A checkpoint's tensors keyed by `.sc` weight name ([`scc_compiler::weights::sc_weight_name`]),
/// as [`advise_with_kernels`] takes them: the CLI's and Python's `advise` both build their map here.
pub fn kernels_by_sc_name(
    tensors: std::collections::BTreeMap<String, scc_runtime::Tensor>,
) -> std::collections::BTreeMap<String, scc_runtime::Tensor> {
    tensors
        .into_iter()
        .map(|(key, t)| (scc_compiler::weights::sc_weight_name(&key), t))
        .collect()
}

fn apply_names(model: &mut Model, names: &NameTable) {
    for (index, (onnx, _)) in names.inputs.iter().enumerate() {
        model.graph.rename_input(index, onnx);
    }
    for (index, (onnx, _)) in names.outputs.iter().enumerate() {
        model.graph.rename_output(index, onnx);
    }
}

/// What [`import_onnx`] wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The `.sc` file.
    pub sc_path: PathBuf,
    /// The weights file beside it (`NAME.safetensors`).
    pub weights_path: PathBuf,
    /// The `.sc` model's name.
    pub model_name: String,
    /// `let`s written (one per layer).
    pub layers: usize,
    /// Weight tensors written.
    pub weights: usize,
    /// ONNX input and output names and the `.sc` names they became.
    pub names: NameTable,
    /// The layers made structured, with the residual of each projection.
    pub structured: Vec<StructuredLayer>,
}

/// `scc import`: imports `onnx_path` and writes `sc_path` (readable `.sc`: one `let` per layer,
/// each with a comment naming its ONNX op and node) and the weights beside it as
/// `<sc_path without extension>.safetensors`. The written model is checked by lowering it
/// with its weights before anything is written.
pub fn import_onnx(
    onnx_path: impl AsRef<Path>,
    sc_path: impl AsRef<Path>,
    options: &OnnxOptions,
) -> Result<ImportReport, Error> {
    let (onnx_path, sc_path) = (onnx_path.as_ref(), sc_path.as_ref());
    let mut options = options.clone();
    let imported = {
        let model_name = sc_path
            .file_stem()
            .map(|s| scc_onnx::identifier(&s.to_string_lossy()));
        let import_options = ImportOptions {
            input_shapes: std::mem::take(&mut options.input_shapes),
            structure: options.structure.clone(),
            model_name,
        };
        scc_onnx::import_file(onnx_path, &import_options)?
    };
    let text = imported.source_text();
    let model = Model::from_source(&sc_path.display().to_string(), &text, None)?;
    model.bind_weights(imported.weights.clone(), &BindOptions::default())?;
    let weights_path = sc_path.with_extension("safetensors");
    std::fs::write(sc_path, &text).map_err(|error| Error::Write {
        path: sc_path.display().to_string(),
        error,
    })?;
    scc_runtime::write_safetensors(&weights_path, &imported.weights)?;
    let layers = match imported.file.items.first() {
        Some(scc_lang::ast::Item::Model(m)) => m.body.len().saturating_sub(1),
        _ => 0,
    };
    Ok(ImportReport {
        sc_path: sc_path.to_path_buf(),
        weights_path,
        model_name: model.name().to_string(),
        layers,
        weights: imported.weights.len(),
        names: imported.names,
        structured: imported.structured,
    })
}
