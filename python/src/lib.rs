//! `scc._scc`, the extension module of the Python package `scc` (re-exported by
//! `python/scc/__init__.py`; typed in `python/scc/_scc.pyi`).
//!
//! Every entry point converts its Python arguments with the GIL held (numpy arrays of any
//! layout and floating-point dtype become `f32` tensors), then runs scc with the GIL
//! released, so Python threads sharing one [`CompiledModel`] run in parallel. Every
//! failure is an exception of the `scc.Error` family carrying the CLI's message; a panic
//! inside scc (a bug) is reported as `scc.Error` too, never as an abort of the interpreter.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};
use pyo3::{create_exception, intern};
use scc::runtime::{Checkpoint, SkippedTensor};
use scc::{BindOptions, BindReport, LowerOptions, Model, Tensor, Weights};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Instant;

create_exception!(
    scc,
    Error,
    PyException,
    "Base class of every error scc raises. `str(e)` is the CLI's message; `e.diagnostic` the full report the CLI prints."
);
create_exception!(
    scc,
    SourceError,
    Error,
    "An error in the model text (syntax, names, arguments, shapes): `str(e)` is the located diagnostic with the source line; `e.file`, `e.line`, `e.column` (1-based) locate it."
);
create_exception!(
    scc,
    FileError,
    Error,
    "A file that cannot be read or written, or is not valid safetensors."
);
create_exception!(
    scc,
    WeightError,
    Error,
    "Weights that do not match the model (every missing, unexpected, misshapen or non-finite tensor is listed)."
);
create_exception!(
    scc,
    RunError,
    Error,
    "Inputs that do not match the model (missing or unexpected names, wrong shapes, non-floating dtypes)."
);
create_exception!(
    scc,
    PassError,
    Error,
    "An optimisation pass failed (unknown pass name, verifier or translation-validation failure)."
);
create_exception!(
    scc,
    CodegenError,
    Error,
    "Code generation (the JIT or the ahead-of-time compiler) failed."
);
create_exception!(
    scc,
    OnnxError,
    Error,
    "An ONNX model that cannot be read or imported (the message names the ONNX node)."
);
create_exception!(
    scc,
    BuildError,
    Error,
    "`scc.build` failed: no C compiler, linking, or writing the output."
);
create_exception!(
    scc,
    ResourceError,
    Error,
    "The model needs more memory than the limit (the memory available on this machine), checked before anything is allocated; the message names the largest tensors."
);

/// The report of `err` as an exception of its stage: the message the CLI prints (without
/// its `error: ` prefix), and the full printed report as `diagnostic`.
fn to_py_err(py: Python<'_>, err: scc::Error) -> PyErr {
    let rendered = err.render();
    let message = rendered
        .strip_prefix("error: ")
        .unwrap_or(&rendered)
        .trim_end()
        .to_string();
    let py_err = match &err {
        _ if err.memory_error().is_some() => ResourceError::new_err(message),
        scc::Error::Source { .. } => SourceError::new_err(message),
        scc::Error::Read { .. } | scc::Error::Write { .. } | scc::Error::TensorIo(_) => {
            FileError::new_err(message)
        }
        scc::Error::Weights(_) => WeightError::new_err(message),
        scc::Error::Run(_) => RunError::new_err(message),
        scc::Error::Pass(_) => PassError::new_err(message),
        // A vector tier or target CPU this machine cannot run is a code generation failure.
        scc::Error::Codegen(_) | scc::Error::Target(_) => CodegenError::new_err(message),
        scc::Error::Build(_) => BuildError::new_err(message),
        scc::Error::Onnx(_) => OnnxError::new_err(message),
        scc::Error::Memory(_) => ResourceError::new_err(message),
    };
    let value = py_err.value(py);
    let _ = value.setattr(intern!(py, "diagnostic"), rendered.as_str());
    if let scc::Error::Source { diagnostic, file } = &err {
        let _ = value.setattr(intern!(py, "file"), file.name.as_str());
        if let Some(span) = diagnostic.primary_span() {
            let (line, column) = line_column(&file.text, span.start);
            let _ = value.setattr(intern!(py, "line"), line);
            let _ = value.setattr(intern!(py, "column"), column);
        }
    }
    py_err
}

/// The 1-based line and column (in characters, as the rendered diagnostic counts them) of
/// byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Runs `work` with the GIL released; a panic (a bug in scc) becomes `scc.Error`.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, scc::Error> + Send,
) -> PyResult<T> {
    match py.detach(|| catch_unwind(AssertUnwindSafe(work))) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py_err(py, err)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(Error::new_err(format!(
                "internal error in scc (please report it): {what}"
            )))
        }
    }
}

/// Where a model comes from.
enum ModelSource {
    Path(PathBuf),
    /// An ONNX file (`.onnx`): the model and its weights.
    Onnx(PathBuf),
    Text(String),
}

fn is_onnx(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// A `str` holding `{` is `.sc` source text (every model has a body); any other `str` or
/// `os.PathLike` is a path.
fn model_source(model: &Bound<'_, PyAny>) -> PyResult<ModelSource> {
    if let Ok(text) = model.cast::<PyString>() {
        let text = text.to_str()?;
        return Ok(if text.contains('{') {
            ModelSource::Text(text.to_string())
        } else {
            path_source(PathBuf::from(text))
        });
    }
    model.extract::<PathBuf>().map(path_source).map_err(|_| {
        PyTypeError::new_err(format!(
            "model must be a path (str or os.PathLike) or .sc source text, not {}",
            type_name(model)
        ))
    })
}

fn path_source(path: PathBuf) -> ModelSource {
    if is_onnx(&path) {
        ModelSource::Onnx(path)
    } else {
        ModelSource::Path(path)
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// How the model's inputs are shaped: `{name: shape}` replacing declared shapes.
fn lower_options(input_shapes: Option<&Bound<'_, PyAny>>) -> PyResult<LowerOptions> {
    let mut options = LowerOptions::default();
    if let Some(shapes) = input_shapes.filter(|s| !s.is_none()) {
        let shapes = shapes
            .cast::<PyDict>()
            .map_err(|_| PyTypeError::new_err("input_shapes must be a dict {input name: shape}"))?;
        for (name, shape) in shapes.iter() {
            let name: String = name
                .extract()
                .map_err(|_| PyTypeError::new_err("input_shapes keys must be input names (str)"))?;
            let dims: Vec<usize> = shape.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "input_shapes[{name:?}] must be a sequence of positive ints"
                ))
            })?;
            if dims.contains(&0) {
                return Err(PyValueError::new_err(format!(
                    "input_shapes[{name:?}] has a zero dimension: {dims:?}"
                )));
            }
            options.input_shapes.insert(name, dims);
        }
    }
    Ok(options)
}

fn load_model(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    model_name: Option<String>,
    input_shapes: Option<&Bound<'_, PyAny>>,
) -> PyResult<Model> {
    let source = model_source(model)?;
    let options = lower_options(input_shapes)?;
    if matches!(source, ModelSource::Onnx(_)) && model_name.is_some() {
        return Err(PyValueError::new_err(
            "model_name chooses among the models of a .sc file; an ONNX file holds one",
        ));
    }
    detached(py, move || match &source {
        ModelSource::Path(path) => Model::from_file_with(path, model_name.as_deref(), &options),
        ModelSource::Onnx(path) => {
            let options = scc::OnnxOptions {
                input_shapes: options.input_shapes.clone(),
                ..scc::OnnxOptions::default()
            };
            Model::from_onnx(path, &options)
        }
        ModelSource::Text(text) => {
            Model::from_source_with("<string>", text, model_name.as_deref(), &options)
        }
    })
}

/// The `weights` argument.
enum WeightSource {
    /// No weights: only a model without parameters binds.
    Empty,
    File(PathBuf),
    /// A dict of arrays: the float ones, and the integer/boolean ones listed as skipped.
    Tensors(Checkpoint),
    Random(u64),
}

fn weight_source(weights: Option<&Bound<'_, PyAny>>) -> PyResult<WeightSource> {
    let Some(weights) = weights.filter(|w| !w.is_none()) else {
        return Ok(WeightSource::Empty);
    };
    if weights.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "weights must be a safetensors path, a dict of arrays or an int seed, not a bool",
        ));
    }
    if weights.is_instance_of::<PyInt>() {
        let seed: u64 = weights.extract().map_err(|_| {
            PyValueError::new_err("a random-weights seed must be a non-negative int below 2**64")
        })?;
        return Ok(WeightSource::Random(seed));
    }
    if let Ok(dict) = weights.cast::<PyDict>() {
        let mut checkpoint = Checkpoint::default();
        for (name, value) in dict.iter() {
            let name: String = name
                .extract()
                .map_err(|_| PyTypeError::new_err("weights keys must be weight names (str)"))?;
            // As in a weights file: integer and boolean tensors (`num_batches_tracked`
            // counters of a state_dict) are not weights, and are passed over.
            if let Some(skipped) = non_float(&name, &value)? {
                checkpoint.skipped.push(skipped);
                continue;
            }
            let tensor = to_tensor(&value, &format!("weight `{name}`"), WeightError::new_err)?;
            checkpoint.tensors.insert(name, tensor);
        }
        return Ok(WeightSource::Tensors(checkpoint));
    }
    weights
        .extract::<PathBuf>()
        .map(WeightSource::File)
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "weights must be a safetensors path, a dict of arrays by weight name or an int seed, not {}",
                type_name(weights)
            ))
        })
}

/// The integer or boolean array `value` as a skipped tensor (`None` for anything else).
fn non_float(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<SkippedTensor>> {
    let py = value.py();
    let array = py
        .import(intern!(py, "numpy"))?
        .call_method1(intern!(py, "asarray"), (value,))?;
    let dtype = array.getattr(intern!(py, "dtype"))?;
    let kind: String = dtype.getattr(intern!(py, "kind"))?.extract()?;
    if !matches!(kind.as_str(), "i" | "u" | "b") {
        return Ok(None);
    }
    let bits = 8 * dtype.getattr(intern!(py, "itemsize"))?.extract::<usize>()?;
    let dtype = match kind.as_str() {
        "b" => "BOOL".to_string(),
        "i" => format!("I{bits}"),
        _ => format!("U{bits}"),
    };
    Ok(Some(SkippedTensor {
        name: name.to_string(),
        dtype,
        shape: array.getattr(intern!(py, "shape"))?.extract()?,
    }))
}

fn bind(
    model: &Model,
    source: WeightSource,
    options: &BindOptions,
) -> Result<(Weights, BindReport), scc::Error> {
    match source {
        WeightSource::Empty => match model.bind_embedded_weights(options)? {
            // An ONNX model brings its own weights.
            Some(bound) => Ok(bound),
            None => model.bind_weights(BTreeMap::new(), options),
        },
        WeightSource::File(path) => model.load_weights(path, options),
        WeightSource::Tensors(checkpoint) => Ok(scc::compiler::weights::bind_checkpoint(
            model.graph(),
            checkpoint,
            "<dict>",
            options,
        )?),
        WeightSource::Random(seed) => Ok((model.random_weights(seed)?, BindReport::default())),
    }
}

/// Converts any array-like of a floating-point dtype (float16/32/64; any memory layout,
/// strided or negative-stride views included) into an f32 tensor in logical (C) order.
fn to_tensor(value: &Bound<'_, PyAny>, what: &str, error: fn(String) -> PyErr) -> PyResult<Tensor> {
    let py = value.py();
    let numpy = py.import(intern!(py, "numpy"))?;
    let array = numpy.call_method1(intern!(py, "asarray"), (value,))?;
    let dtype = array.getattr(intern!(py, "dtype"))?;
    let kind: String = dtype.getattr(intern!(py, "kind"))?.extract()?;
    if kind != "f" {
        let name: String = dtype.getattr(intern!(py, "name"))?.extract()?;
        return Err(error(format!(
            "{what} has dtype {name}; expected a floating-point array (float32; float16 and float64 are converted)"
        )));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "copy"), false)?;
    let array = array.call_method(intern!(py, "astype"), ("=f4",), Some(&kwargs))?;
    let array = array.cast_into::<PyArrayDyn<f32>>()?;
    let readonly = array.try_readonly()?;
    let view = readonly.as_array();
    let shape = view.shape().to_vec();
    let data: Vec<f32> = match view.as_slice() {
        Some(slice) => slice.to_vec(),
        None => view.iter().copied().collect(),
    };
    Tensor::new(shape, data).map_err(|e| error(format!("{what}: {e}")))
}

fn to_numpy<'py>(py: Python<'py>, tensor: Tensor) -> PyResult<Bound<'py, PyAny>> {
    let shape = tensor.shape().to_vec();
    let array = ArrayD::from_shape_vec(IxDyn(&shape), tensor.into_data())
        .map_err(|e| Error::new_err(format!("internal error in scc: {e}")))?;
    Ok(array.into_pyarray(py).into_any())
}

fn json_to_py<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::new_err(format!("internal error in scc: {e}")))?;
    py.import(intern!(py, "json"))?
        .call_method1(intern!(py, "loads"), (text,))
}

fn shapes_list<'py>(
    py: Python<'py>,
    list: Vec<(String, Vec<usize>)>,
) -> PyResult<Bound<'py, PyList>> {
    let items = list
        .into_iter()
        .map(|(name, shape)| (name, PyTuple::new(py, shape)?).into_pyobject(py))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

fn engine(name: &str) -> PyResult<scc::Engine> {
    match name {
        "jit" => Ok(scc::Engine::Jit),
        "interp" | "interpreter" => Ok(scc::Engine::Interpreter),
        other => Err(PyValueError::new_err(format!(
            "engine must be \"jit\" or \"interp\", not {other:?}"
        ))),
    }
}

fn threads(threads: Option<usize>) -> PyResult<usize> {
    match threads {
        None => Ok(0),
        Some(0) => Err(PyValueError::new_err(
            "threads must be at least 1 (None: all cores)",
        )),
        Some(n) => Ok(n),
    }
}

fn bind_options(max_structure_error: f64, allow_structure_error: bool) -> PyResult<BindOptions> {
    if !(max_structure_error.is_finite() && max_structure_error >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "max_structure_error must be a finite number >= 0, not {max_structure_error}"
        )));
    }
    Ok(BindOptions {
        max_structure_error,
        allow_structure_error,
    })
}

/// A model compiled for one engine, ready to run on numpy arrays; safe to share between
/// threads (the GIL is released while it runs).
#[pyclass(frozen, module = "scc", name = "CompiledModel")]
struct CompiledModel {
    model: Model,
    compiled: scc::CompiledModel,
    bound: BindReport,
}

impl CompiledModel {
    fn feed(&self, feed: &Bound<'_, PyAny>) -> PyResult<BTreeMap<String, Tensor>> {
        let feed = feed.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "the inputs must be a dict {{input name: array}}, not {}",
                type_name(feed)
            ))
        })?;
        let mut inputs = BTreeMap::new();
        for (name, value) in feed.iter() {
            let name: String = name
                .extract()
                .map_err(|_| PyTypeError::new_err("input names must be str"))?;
            let tensor = to_tensor(&value, &format!("input `{name}`"), RunError::new_err)?;
            inputs.insert(name, tensor);
        }
        Ok(inputs)
    }

    fn run_tensors(
        &self,
        py: Python<'_>,
        inputs: BTreeMap<String, Tensor>,
    ) -> PyResult<Vec<(String, Tensor)>> {
        detached(py, || self.compiled.run(&inputs))
    }
}

#[pymethods]
impl CompiledModel {
    /// The model's name.
    #[getter]
    fn name(&self) -> &str {
        self.model.name()
    }

    /// The inputs: `(name, shape)` in declaration order.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        shapes_list(py, self.model.inputs())
    }

    /// The outputs: `(name, shape)` in `return` order.
    #[getter]
    fn outputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        shapes_list(py, self.model.outputs())
    }

    /// `"jit"` or `"interp"`.
    #[getter]
    fn engine(&self) -> &'static str {
        match self.compiled.engine() {
            scc::Engine::Jit => "jit",
            scc::Engine::Interpreter => "interp",
        }
    }

    /// Worker threads a run uses.
    #[getter]
    fn threads(&self) -> usize {
        self.compiled.threads()
    }

    /// Milliseconds spent optimising and generating code.
    #[getter]
    fn compile_ms(&self) -> f64 {
        self.compiled.compile_time().as_secs_f64() * 1e3
    }

    /// Dense kernels given for structured layers and projected onto the structure:
    /// `{layer: relative residual}`.
    #[getter]
    fn projections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for report in &self.bound.projections {
            dict.set_item(&report.layer, report.relative_residual)?;
        }
        Ok(dict)
    }

    /// Tensors of the weights that are not weights (integer or boolean, such as a
    /// state_dict's `num_batches_tracked` counters) and were passed over, by name.
    #[getter]
    fn skipped_weights(&self) -> Vec<String> {
        self.bound.skipped.iter().map(|t| t.name.clone()).collect()
    }

    /// Keys given in PyTorch's naming and the `.sc` weight each was bound as
    /// (`layer1.0.conv1.weight` -> `layer1_0.conv1.weight`).
    #[getter]
    fn renamed_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (torch_name, sc_name) in &self.bound.renamed {
            dict.set_item(torch_name, sc_name)?;
        }
        Ok(dict)
    }

    /// `run(feed)` -> `{output name: array}`; `run(output_names, feed)` -> list of arrays
    /// in the order of `output_names` (`None`: every output in `return` order), as
    /// `onnxruntime.InferenceSession.run`.
    #[pyo3(signature = (output_names_or_feed, input_feed=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        output_names_or_feed: &Bound<'py, PyAny>,
        input_feed: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Some(feed) = input_feed else {
            if output_names_or_feed.is_none() {
                return Err(PyTypeError::new_err(
                    "run() needs the inputs: run(feed) or run(output_names, feed)",
                ));
            }
            let inputs = self.feed(output_names_or_feed)?;
            let dict = PyDict::new(py);
            for (name, tensor) in self.run_tensors(py, inputs)? {
                dict.set_item(name, to_numpy(py, tensor)?)?;
            }
            return Ok(dict.into_any());
        };
        let wanted: Option<Vec<String>> = if output_names_or_feed.is_none() {
            None
        } else {
            if output_names_or_feed.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(
                    "output_names must be a list of output names or None",
                ));
            }
            Some(output_names_or_feed.extract().map_err(|_| {
                PyTypeError::new_err("output_names must be a list of output names or None")
            })?)
        };
        let declared = self.model.outputs();
        if let Some(wanted) = &wanted {
            for name in wanted {
                if !declared.iter().any(|(n, _)| n == name) {
                    let known: Vec<String> = declared
                        .iter()
                        .map(|(n, s)| format!("`{n}` {}", scc::compiler::ir::format_shape(s)))
                        .collect();
                    return Err(RunError::new_err(format!(
                        "unknown output `{name}`: the model's outputs are {}",
                        known.join(", ")
                    )));
                }
            }
        }
        let inputs = self.feed(feed)?;
        let mut outputs: BTreeMap<String, Tensor> =
            self.run_tensors(py, inputs)?.into_iter().collect();
        let order = wanted.unwrap_or_else(|| declared.into_iter().map(|(n, _)| n).collect());
        let mut arrays = Vec::with_capacity(order.len());
        for name in &order {
            // A name asked for twice gets the same values twice.
            let tensor = match outputs.get(name) {
                Some(t) if order.iter().filter(|n| *n == name).count() > 1 => t.clone(),
                _ => outputs.remove(name).ok_or_else(|| {
                    Error::new_err(format!("internal error in scc: output `{name}` missing"))
                })?,
            };
            arrays.push(to_numpy(py, tensor)?);
        }
        Ok(PyList::new(py, arrays)?.into_any())
    }

    /// Times `runs` runs (after `warmup` untimed ones) on `input_feed`, or on seeded
    /// random inputs uniform in [-1, 1] when `None`.
    #[pyo3(signature = (runs=20, input_feed=None, *, warmup=3))]
    fn bench<'py>(
        &self,
        py: Python<'py>,
        runs: usize,
        input_feed: Option<&Bound<'py, PyAny>>,
        warmup: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        if runs == 0 {
            return Err(PyValueError::new_err("runs must be at least 1"));
        }
        let inputs = match input_feed.filter(|f| !f.is_none()) {
            Some(feed) => self.feed(feed)?,
            None => self.model.random_inputs(0).map_err(|e| to_py_err(py, e))?,
        };
        let mut samples = detached(py, || {
            for _ in 0..warmup {
                self.compiled.run(&inputs)?;
            }
            let mut samples = Vec::with_capacity(runs);
            for _ in 0..runs {
                let started = Instant::now();
                self.compiled.run(&inputs)?;
                samples.push(started.elapsed().as_secs_f64() * 1e3);
            }
            Ok(samples)
        })?;
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let totals =
            scc::compiler::stats::totals(&scc::compiler::stats::costs(self.compiled.graph()));
        let gflops = |macs: usize| 2.0 * macs as f64 / (median * 1e-3) / 1e9;
        let report = serde_json::json!({
            "model": self.model.name(),
            "engine": self.engine(),
            "threads": self.compiled.threads(),
            "runs": runs,
            "warmup": warmup,
            "compile_ms": self.compile_ms(),
            "median_ms": median,
            "mean_ms": mean,
            "min_ms": samples[0],
            "max_ms": samples[samples.len() - 1],
            "executed_macs": totals.structured_macs,
            "dense_macs": totals.dense_macs,
            "gflops_executed": gflops(totals.structured_macs),
            "gflops_dense_equivalent": gflops(totals.dense_macs),
        });
        json_to_py(py, &report)
    }

    fn __repr__(&self) -> String {
        let list = |items: Vec<(String, Vec<usize>)>| {
            items
                .iter()
                .map(|(n, s)| format!("{n}: {}", scc::compiler::ir::format_shape(s)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "<scc.CompiledModel `{}` ({}) -> ({}), engine={}, threads={}>",
            self.model.name(),
            list(self.model.inputs()),
            list(self.model.outputs()),
            self.engine(),
            self.compiled.threads()
        )
    }
}

/// Compiles a model: see `scc.compile` in `_scc.pyi`.
#[pyfunction]
#[pyo3(signature = (model, weights=None, *, model_name=None, engine="jit", threads=None,
    input_shapes=None, max_structure_error=scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR))]
#[allow(clippy::too_many_arguments)]
fn compile(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    weights: Option<&Bound<'_, PyAny>>,
    model_name: Option<String>,
    engine: &str,
    threads: Option<usize>,
    input_shapes: Option<&Bound<'_, PyAny>>,
    max_structure_error: f64,
) -> PyResult<CompiledModel> {
    let options = scc::Options {
        engine: self::engine(engine)?,
        threads: self::threads(threads)?,
        ..scc::Options::default()
    };
    let bind_options = bind_options(max_structure_error, false)?;
    let weights = weight_source(weights)?;
    let model = load_model(py, model, model_name, input_shapes)?;
    let (compiled, bound) = detached(py, || {
        let (weights, bound) = bind(&model, weights, &bind_options)?;
        Ok((scc::compile(&model, &weights, &options)?, bound))
    })?;
    Ok(CompiledModel {
        model,
        compiled,
        bound,
    })
}

/// The `scc check --json` report: see `scc.check` in `_scc.pyi`.
#[pyfunction]
#[pyo3(signature = (model, weights=None, *, model_name=None, input_shapes=None,
    max_structure_error=scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR))]
fn check<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    model_name: Option<String>,
    input_shapes: Option<&Bound<'py, PyAny>>,
    max_structure_error: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let bind_options = bind_options(max_structure_error, true)?;
    let weights = match weights.filter(|w| !w.is_none()) {
        Some(w) => Some(weight_source(Some(w))?),
        None => None,
    };
    let model = load_model(py, model, model_name, input_shapes)?;
    let report = detached(py, || {
        let (weights, residuals) = match weights {
            Some(source) => {
                let (weights, reports) = bind(&model, source, &bind_options)?;
                (Some(weights), Some(reports))
            }
            None => match model.bind_embedded_weights(&bind_options)? {
                Some((weights, report)) => (Some(weights), Some(report)),
                None => (None, None),
            },
        };
        // As `scc check`: the layouts and executions of this CPU's best tier.
        let passes = scc::PassOptions {
            tier: scc::host_tier(None)?,
            ..scc::PassOptions::default()
        };
        let optimized = model.optimize(weights.as_ref(), &passes)?;
        Ok(scc::report::check_json(
            &model,
            &optimized.graph,
            residuals.as_ref().map(|r| &r.projections[..]),
        ))
    })?;
    json_to_py(py, &report)
}

/// Ahead-of-time compilation: see `scc.build` in `_scc.pyi`.
#[pyfunction]
#[pyo3(signature = (model, weights, output, emit="exe", *, model_name=None, input_shapes=None,
    max_structure_error=scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR))]
#[allow(clippy::too_many_arguments)]
fn build<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    weights: &Bound<'py, PyAny>,
    output: PathBuf,
    emit: &str,
    model_name: Option<String>,
    input_shapes: Option<&Bound<'py, PyAny>>,
    max_structure_error: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let emit = match emit {
        "exe" => scc::Emit::Executable,
        "obj" => scc::Emit::Object,
        "staticlib" => scc::Emit::StaticLib,
        other => {
            return Err(PyValueError::new_err(format!(
                "emit must be \"exe\", \"obj\" or \"staticlib\", not {other:?}"
            )));
        }
    };
    let bind_options = bind_options(max_structure_error, false)?;
    let weights = weight_source(Some(weights))?;
    let model = load_model(py, model, model_name, input_shapes)?;
    let report = detached(py, || {
        let (weights, _) = bind(&model, weights, &bind_options)?;
        let options = scc::BuildOptions {
            output,
            emit,
            ..scc::BuildOptions::default()
        };
        scc::build(&model, &weights, &options)
    })?;
    let files: Vec<String> = report
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    json_to_py(
        py,
        &serde_json::json!({
            "files": files,
            "bytes": report.bytes,
            "weight_bytes": report.weight_bytes,
            "code_bytes": report.code_bytes,
            "seconds": report.time.as_secs_f64(),
        }),
    )
}

/// `scc import`: see `scc.import_onnx` in `_scc.pyi`.
#[pyfunction]
#[pyo3(signature = (path, output, structure=None, *, input_shapes=None))]
fn import_onnx<'py>(
    py: Python<'py>,
    path: PathBuf,
    output: PathBuf,
    structure: Option<&Bound<'py, PyAny>>,
    input_shapes: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = scc::OnnxOptions {
        input_shapes: lower_options(input_shapes)?.input_shapes,
        structure: structure_options(structure)?,
    };
    let report = detached(py, || scc::import_onnx(&path, &output, &options))?;
    let structured: Vec<serde_json::Value> = report
        .structured
        .iter()
        .map(|l| {
            serde_json::json!({
                "layer": l.layer,
                "c": l.structure.c,
                "n": [l.structure.n.0, l.structure.n.1],
                "relative_residual": l.relative_residual,
                "automatic": l.automatic,
            })
        })
        .collect();
    let names = |list: &[(String, String)]| {
        list.iter()
            .map(|(onnx, sc)| serde_json::json!({"onnx": onnx, "sc": sc}))
            .collect::<Vec<_>>()
    };
    json_to_py(
        py,
        &serde_json::json!({
            "model": report.sc_path.display().to_string(),
            "weights": report.weights_path.display().to_string(),
            "model_name": report.model_name,
            "layers": report.layers,
            "weight_tensors": report.weights,
            "inputs": names(&report.names.inputs),
            "outputs": names(&report.names.outputs),
            "structured": structured,
        }),
    )
}

/// `structure=`: `None` (dense), `"auto"`, a float (auto with that tolerance), or
/// `{layer: c | (c, n) | (c, nh, nw)}`.
fn structure_options(
    structure: Option<&Bound<'_, PyAny>>,
) -> PyResult<scc::scc_onnx::StructureOptions> {
    use scc::scc_onnx::{LayerStructure, StructureOptions};
    let mut options = StructureOptions::default();
    let Some(structure) = structure.filter(|s| !s.is_none()) else {
        return Ok(options);
    };
    let invalid = || {
        PyValueError::new_err(
            "structure must be None, \"auto\", a tolerance (float) or a dict {layer: c | (c, n) | (c, nh, nw)}",
        )
    };
    if let Ok(text) = structure.cast::<PyString>() {
        if text.to_str()? != "auto" {
            return Err(invalid());
        }
        options.auto = Some(scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR);
        return Ok(options);
    }
    if let Ok(dict) = structure.cast::<PyDict>() {
        for (layer, spec) in dict.iter() {
            let layer: String = layer.extract().map_err(|_| invalid())?;
            let numbers: Vec<usize> = match spec.extract::<usize>() {
                Ok(c) => vec![c],
                Err(_) => spec.extract().map_err(|_| invalid())?,
            };
            let structure = match numbers.as_slice() {
                [c] => LayerStructure { c: *c, n: (1, 1) },
                [c, n] => LayerStructure { c: *c, n: (*n, *n) },
                [c, nh, nw] => LayerStructure {
                    c: *c,
                    n: (*nh, *nw),
                },
                _ => return Err(invalid()),
            };
            if structure.c == 0 || structure.n.0 == 0 || structure.n.1 == 0 {
                return Err(invalid());
            }
            options.layers.insert(layer, structure);
        }
        return Ok(options);
    }
    if structure.is_instance_of::<PyBool>() {
        return Err(invalid());
    }
    let tolerance: f64 = structure.extract().map_err(|_| invalid())?;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(invalid());
    }
    options.auto = Some(tolerance);
    Ok(options)
}

/// `scc advise`: see `scc.advise` in `_scc.pyi`.
#[pyfunction]
#[pyo3(signature = (model, weights=None, *, model_name=None, input_shapes=None,
    tolerance=scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR))]
fn advise<'py>(
    py: Python<'py>,
    model: &Bound<'py, PyAny>,
    weights: Option<&Bound<'py, PyAny>>,
    model_name: Option<String>,
    input_shapes: Option<&Bound<'py, PyAny>>,
    tolerance: f64,
) -> PyResult<Bound<'py, PyAny>> {
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "tolerance must be a finite number >= 0, not {tolerance}"
        )));
    }
    let lenient = bind_options(scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR, true)?;
    let source = weight_source(weights)?;
    if matches!(source, WeightSource::Empty | WeightSource::Random(_)) && !is_onnx_arg(model) {
        return Err(PyValueError::new_err(
            "advice needs trained weights: give weights (a safetensors path or a dict of arrays)",
        ));
    }
    let model = load_model(py, model, model_name, input_shapes)?;
    let advice = detached(py, || {
        // The tensors as given, by `.sc` weight name (as the CLI): a structured layer's dense
        // `weight` is scored as trained, not as projected.
        let given = scc::kernels_by_sc_name(match &source {
            WeightSource::File(path) => scc::runtime::read_checkpoint(path)?.tensors,
            WeightSource::Tensors(checkpoint) => checkpoint.tensors.clone(),
            WeightSource::Empty | WeightSource::Random(_) => BTreeMap::new(),
        });
        let (weights, _) = bind(&model, source, &lenient)?;
        Ok(scc::advise_with_kernels(
            &model, &weights, &given, tolerance,
        ))
    })?;
    let value = serde_json::to_value(&advice)
        .map_err(|e| Error::new_err(format!("internal error in scc: {e}")))?;
    json_to_py(py, &value)
}

fn is_onnx_arg(model: &Bound<'_, PyAny>) -> bool {
    matches!(model_source(model), Ok(ModelSource::Onnx(_)))
}

/// Reads a safetensors file: `{name: float32 array}` (f16/bf16 widened).
#[pyfunction]
fn load_safetensors<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let tensors = detached(py, || Ok(scc::runtime::read_safetensors(&path)?))?;
    let dict = PyDict::new(py);
    for (name, tensor) in tensors {
        dict.set_item(name, to_numpy(py, tensor)?)?;
    }
    Ok(dict)
}

/// Writes `{name: array}` (floating point, any layout) as float32 safetensors.
#[pyfunction]
fn save_safetensors(py: Python<'_>, path: PathBuf, tensors: &Bound<'_, PyAny>) -> PyResult<()> {
    let tensors = tensors.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "tensors must be a dict {{name: array}}, not {}",
            type_name(tensors)
        ))
    })?;
    let mut map = BTreeMap::new();
    for (name, value) in tensors.iter() {
        let name: String = name
            .extract()
            .map_err(|_| PyTypeError::new_err("tensor names must be str"))?;
        let tensor = to_tensor(&value, &format!("tensor `{name}`"), FileError::new_err)?;
        map.insert(name, tensor);
    }
    detached(py, || Ok(scc::runtime::write_safetensors(&path, &map)?))
}

#[pymodule]
fn _scc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "DEFAULT_MAX_STRUCTURE_ERROR",
        scc::compiler::weights::DEFAULT_MAX_STRUCTURE_ERROR,
    )?;
    m.add_class::<CompiledModel>()?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(build, m)?)?;
    m.add_function(wrap_pyfunction!(import_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(advise, m)?)?;
    m.add_function(wrap_pyfunction!(load_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(save_safetensors, m)?)?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("SourceError", py.get_type::<SourceError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("WeightError", py.get_type::<WeightError>())?;
    m.add("RunError", py.get_type::<RunError>())?;
    m.add("PassError", py.get_type::<PassError>())?;
    m.add("CodegenError", py.get_type::<CodegenError>())?;
    m.add("ResourceError", py.get_type::<ResourceError>())?;
    m.add("BuildError", py.get_type::<BuildError>())?;
    m.add("OnnxError", py.get_type::<OnnxError>())?;
    // Attributes every error has, whatever its stage.
    let error = py.get_type::<Error>();
    error.setattr("diagnostic", "")?;
    let source = py.get_type::<SourceError>();
    for name in ["file", "line", "column"] {
        source.setattr(name, py.None())?;
    }
    Ok(())
}
