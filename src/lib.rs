//! scc — a compiler for structured-convolution networks.
//!
//! This facade is the public Rust API: load a model from `.sc` source, bind weights
//! (from safetensors or seeded random), and run it. Every failure is an [`Error`] whose
//! [`Error::render`] gives the full diagnostic (with `file:line:col` and the source line
//! for errors in the model text).
//!
//! ```
//! use scc::{Engine, Model, Options, Weights};
//! let model = Model::from_source(
//!     "inline.sc",
//!     "model m(x: [1, 8, 6, 6]) { let s = sconv2d(x, 8, kernel=3, c=4, n=2, pad=1); return relu(s); }",
//!     None,
//! )
//! .unwrap();
//! let weights = Weights::random(model.graph(), 7).unwrap();
//! let inputs = model.random_inputs(1).unwrap();
//! // JIT-compile (Cranelift) and run; the interpreter runs behind the same interface.
//! let compiled = scc::compile(&model, &weights, &Options::default()).unwrap();
//! let outputs = compiled.run(&inputs).unwrap();
//! let reference = scc::compile(&model, &weights, &Options { engine: Engine::Interpreter, ..Options::default() })
//!     .unwrap()
//!     .run(&inputs)
//!     .unwrap();
//! assert_eq!(outputs[0].1.shape(), &[1, 8, 6, 6]);
//! assert!(outputs[0].1.max_abs_diff(&reference[0].1) < 1e-4);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

pub use scc_compiler as compiler;
pub use scc_compiler::passes::{Optimized, PassError, PassOptions};
pub use scc_compiler::target::{Target, TargetCpu, TargetError, Tier};
pub use scc_compiler::weights::{BindOptions, BindReport, ProjectionReport, Weights};
pub use scc_compiler::{DEFAULT_MAX_NODES, LowerOptions};
pub use scc_lang as lang;
pub use scc_lang::{Diagnostic, SourceFile};
pub use scc_runtime as runtime;
pub use scc_runtime::{MemoryError, MemoryLimit, Requirement, Tensor};

use scc_compiler::Graph;

pub mod aot;
pub mod report;
pub use aot::{BuildOptions, BuildReport, Emit, build};
pub mod onnx;
pub use onnx::{
    ImportReport, OnnxOptions, advise, advise_with_kernels, import_onnx, kernels_by_sc_name,
};
pub use scc_onnx;

/// Any failure of the public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error in the model's source text (syntax, names, arguments, shapes).
    #[error("{}", .diagnostic.message)]
    Source {
        diagnostic: Diagnostic,
        file: SourceFile,
    },
    #[error("cannot read `{path}`: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("cannot write `{path}`: {error}")]
    Write { path: String, error: std::io::Error },
    #[error(transparent)]
    Weights(#[from] scc_compiler::weights::WeightError),
    #[error(transparent)]
    TensorIo(#[from] scc_runtime::TensorIoError),
    #[error(transparent)]
    Run(#[from] scc_compiler::interp::RunError),
    #[error(transparent)]
    Pass(#[from] PassError),
    #[error(transparent)]
    Codegen(#[from] scc_compiler::codegen::CodegenError),
    #[error(transparent)]
    Build(#[from] aot::BuildError),
    /// The model needs more memory than the limit, or an allocation was refused.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Onnx(#[from] scc_onnx::OnnxError),
}

impl Error {
    /// The memory refusal behind this error, whichever stage raised it (the interpreter, the
    /// JIT, random weights, translation validation or the memory check itself): a model
    /// needing more memory than the limit, or an allocation the system refused.
    pub fn memory_error(&self) -> Option<&MemoryError> {
        match self {
            Error::Memory(e)
            | Error::Codegen(scc_compiler::codegen::CodegenError::Memory(e))
            | Error::Run(scc_compiler::interp::RunError::Memory(e))
            | Error::Weights(scc_compiler::weights::WeightError::Memory(e))
            | Error::Pass(PassError::Memory(e)) => Some(e),
            _ => None,
        }
    }

    /// The complete, human-readable report: for source errors the located diagnostic with
    /// the source line; otherwise `error: ` and the message.
    pub fn render(&self) -> String {
        match self {
            Error::Source { diagnostic, file } => diagnostic.render(Some(file)),
            other => Diagnostic::error(other.to_string()).render(None),
        }
    }
}

/// A lowered model: its source and its graph, with every shape inferred.
#[derive(Debug, Clone)]
pub struct Model {
    source: SourceFile,
    graph: Graph,
    /// The weights that came with the model (an ONNX file's initializers), by `.sc` name.
    embedded: Option<std::sync::Arc<BTreeMap<String, Tensor>>>,
}

impl Model {
    /// Parses and lowers the model `model` of the file (or its only model).
    pub fn from_file(path: impl AsRef<Path>, model: Option<&str>) -> Result<Model, Error> {
        Model::from_file_with(path, model, &LowerOptions::default())
    }

    /// [`Model::from_file`] with lowering options (e.g. input shapes overridden).
    pub fn from_file_with(
        path: impl AsRef<Path>,
        model: Option<&str>,
        options: &LowerOptions,
    ) -> Result<Model, Error> {
        let path = path.as_ref();
        let source = SourceFile::read(path).map_err(|error| Error::Read {
            path: path.display().to_string(),
            error,
        })?;
        Model::from_source_file(source, model, options)
    }

    /// Parses and lowers `text`; `name` is the file name diagnostics show.
    pub fn from_source(name: &str, text: &str, model: Option<&str>) -> Result<Model, Error> {
        Model::from_source_with(name, text, model, &LowerOptions::default())
    }

    /// [`Model::from_source`] with lowering options.
    pub fn from_source_with(
        name: &str,
        text: &str,
        model: Option<&str>,
        options: &LowerOptions,
    ) -> Result<Model, Error> {
        Model::from_source_file(SourceFile::new(name, text), model, options)
    }

    fn from_source_file(
        source: SourceFile,
        model: Option<&str>,
        options: &LowerOptions,
    ) -> Result<Model, Error> {
        let ast = match scc_lang::parse(&source) {
            Ok(ast) => ast,
            Err(diagnostic) => {
                return Err(Error::Source {
                    diagnostic,
                    file: source,
                });
            }
        };
        match scc_compiler::lower_with(&ast, model, options) {
            Ok(graph) => Ok(Model {
                source,
                graph,
                embedded: None,
            }),
            Err(err) => Err(Error::Source {
                diagnostic: err.0,
                file: source,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.graph.name
    }

    pub fn source(&self) -> &SourceFile {
        &self.source
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The model inputs: name and shape, in declaration order.
    pub fn inputs(&self) -> Vec<(String, Vec<usize>)> {
        self.graph
            .inputs()
            .iter()
            .map(|(n, id)| (n.clone(), self.graph.node(*id).shape.clone()))
            .collect()
    }

    /// The model outputs: name and shape, in `return` order.
    pub fn outputs(&self) -> Vec<(String, Vec<usize>)> {
        self.graph
            .outputs()
            .iter()
            .map(|(n, id)| (n.clone(), self.graph.node(*id).shape.clone()))
            .collect()
    }

    /// Loads weights from a safetensors file and checks them against the model; dense
    /// kernels of structured layers are projected (one report per projected layer). A
    /// PyTorch `state_dict` loads as saved: keys in PyTorch's naming are mapped by
    /// [`compiler::weights::sc_weight_name`] (`layer1.0.conv1.weight` →
    /// `layer1_0.conv1.weight`); integer tensors and `num_batches_tracked` counters are
    /// skipped and listed in [`BindReport::skipped`].
    pub fn load_weights(
        &self,
        path: impl AsRef<Path>,
        options: &BindOptions,
    ) -> Result<(Weights, BindReport), Error> {
        let path = path.as_ref();
        let checkpoint = scc_runtime::read_checkpoint(path)?;
        Ok(scc_compiler::weights::bind_checkpoint(
            &self.graph,
            checkpoint,
            &path.display().to_string(),
            options,
        )?)
    }

    /// Checks an in-memory set of named tensors against the model, as [`Model::load_weights`]
    /// (PyTorch's names mapped, `num_batches_tracked` skipped).
    pub fn bind_weights(
        &self,
        tensors: BTreeMap<String, Tensor>,
        options: &BindOptions,
    ) -> Result<(Weights, BindReport), Error> {
        Ok(scc_compiler::weights::bind(
            &self.graph,
            tensors,
            "<memory>",
            options,
        )?)
    }

    /// Deterministic, sensibly scaled weights (for benchmarks and tests), if they (and their
    /// batchnorm calibration) fit in the memory available on this machine.
    pub fn random_weights(&self, seed: u64) -> Result<Weights, Error> {
        self.random_weights_within(seed, None)
    }

    /// [`Model::random_weights`] within `max_memory` bytes (`None`: the memory available).
    pub fn random_weights_within(
        &self,
        seed: u64,
        max_memory: Option<u64>,
    ) -> Result<Weights, Error> {
        Ok(Weights::random_within(
            &self.graph,
            seed,
            &MemoryLimit::from_option(max_memory),
        )?)
    }

    /// Deterministic inputs, uniform in [-1, 1], by input name (allocated fallibly).
    pub fn random_inputs(&self, seed: u64) -> Result<BTreeMap<String, Tensor>, Error> {
        let mut inputs = BTreeMap::new();
        for (i, (name, shape)) in self.inputs().into_iter().enumerate() {
            let mut rng = scc_runtime::random::WeightRng::new(seed.wrapping_add(i as u64));
            inputs.insert(name, rng.try_uniform(shape, 1.0)?);
        }
        Ok(inputs)
    }

    /// Runs the model, as lowered (no optimisation), with the reference interpreter;
    /// outputs in `return` order.
    pub fn interpret(
        &self,
        weights: &Weights,
        inputs: &BTreeMap<String, Tensor>,
    ) -> Result<Vec<(String, Tensor)>, Error> {
        Ok(scc_compiler::interp::run(&self.graph, weights, inputs)?)
    }

    /// Runs the optimisation passes chosen by `options` over the model's graph. With
    /// `weights`, weight arithmetic (e.g. folded batchnorms) is evaluated at compile time
    /// and translation validation (`options.validate`) runs on those weights.
    pub fn optimize(
        &self,
        weights: Option<&Weights>,
        options: &PassOptions,
    ) -> Result<Optimized, Error> {
        let manager = scc_compiler::passes::PassManager::new(options.clone())?;
        Ok(manager.run(&self.graph, weights)?)
    }
}

/// Runs any graph of a model (e.g. an optimised one) with the reference interpreter.
pub fn interpret_graph(
    graph: &Graph,
    weights: &Weights,
    inputs: &BTreeMap<String, Tensor>,
) -> Result<Vec<(String, Tensor)>, Error> {
    Ok(scc_compiler::interp::run(graph, weights, inputs)?)
}

/// Wall time spent in each node of a run.
pub type NodeTimes = std::collections::HashMap<scc_compiler::NodeId, std::time::Duration>;

/// Which engine executes a compiled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Cranelift kernels specialised to the model's shapes (the default).
    Jit,
    /// The reference interpreter over the same optimised graph.
    Interpreter,
}

/// How [`compile`] builds a model.
#[derive(Debug, Clone)]
pub struct Options {
    /// The optimisation passes (the JIT always decomposes structured layers and chooses
    /// layouts; `passes.tier` is set from `tier`).
    pub passes: PassOptions,
    /// Worker threads of the JIT (0: all cores).
    pub threads: usize,
    pub engine: Engine,
    /// The most memory the model may need, in bytes: weights, intermediate tensors, scratch,
    /// inputs and outputs (`None`: the memory available on the machine). Checked before
    /// anything is allocated; a model above it is [`Error::Memory`].
    pub max_memory: Option<u64>,
    /// The vector tier of the kernels; `None`: the best this CPU has. A tier the CPU lacks is
    /// an error ([`TargetError`]).
    pub tier: Option<Tier>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            passes: PassOptions::default(),
            threads: 0,
            engine: Engine::Jit,
            max_memory: None,
            tier: None,
        }
    }
}

/// The tier `tier` resolves to on this machine (`None`: its best), or why it cannot run here.
pub fn host_tier(tier: Option<Tier>) -> Result<Tier, Error> {
    Ok(Target::host_with(tier)?.tier)
}

/// `passes` with the passes code generation needs added to a restricted list.
pub(crate) fn codegen_passes(passes: &PassOptions) -> PassOptions {
    let mut passes = passes.clone();
    if let Some(only) = &mut passes.only {
        // Code generation executes structured layers only as sum-pool + small conv, and
        // reads the layouts chosen for its tier.
        for needed in ["decompose-structured", "choose-layout"] {
            if !only.iter().any(|p| p == needed) {
                only.push(needed.to_string());
            }
        }
    }
    passes
}

enum Executable {
    Jit(Box<scc_compiler::codegen::jit::CompiledModel>),
    Interpreter(Box<Interpreted>),
}

/// The optimised graph, its weights and the memory a run may use, for the interpreter.
struct Interpreted {
    graph: Graph,
    weights: Weights,
    limit: MemoryLimit,
    requirement: Requirement,
}

/// A model ready to run: `Send + Sync`, and `run` may be called from many threads at once.
pub struct CompiledModel {
    executable: Executable,
    compile_time: std::time::Duration,
}

impl CompiledModel {
    /// Runs the model on inputs by name; outputs in `return` order.
    pub fn run(&self, inputs: &BTreeMap<String, Tensor>) -> Result<Vec<(String, Tensor)>, Error> {
        Ok(match &self.executable {
            Executable::Jit(jit) => jit.run(inputs)?,
            Executable::Interpreter(i) => {
                scc_compiler::interp::run_with(&i.graph, &i.weights, inputs, &i.limit, None)?
            }
        })
    }

    /// [`CompiledModel::run`], also returning the wall time of every node.
    pub fn run_timed(
        &self,
        inputs: &BTreeMap<String, Tensor>,
    ) -> Result<(Vec<(String, Tensor)>, NodeTimes), Error> {
        let mut times = std::collections::HashMap::new();
        let outputs = match &self.executable {
            Executable::Jit(jit) => jit.run_timed(inputs, Some(&mut times))?,
            Executable::Interpreter(i) => scc_compiler::interp::run_with(
                &i.graph,
                &i.weights,
                inputs,
                &i.limit,
                Some(&mut times),
            )?,
        };
        Ok((outputs, times))
    }

    /// The optimised graph this model executes.
    pub fn graph(&self) -> &Graph {
        match &self.executable {
            Executable::Jit(jit) => jit.graph(),
            Executable::Interpreter(i) => &i.graph,
        }
    }

    /// Time spent optimising and generating code.
    pub fn compile_time(&self) -> std::time::Duration {
        self.compile_time
    }

    /// The memory a run needs (weights, intermediates, scratch, inputs, outputs), as checked
    /// against the limit when compiling.
    pub fn requirement(&self) -> &Requirement {
        match &self.executable {
            Executable::Jit(jit) => jit.requirement(),
            Executable::Interpreter(i) => &i.requirement,
        }
    }

    /// Worker threads (1 for the interpreter).
    pub fn threads(&self) -> usize {
        match &self.executable {
            Executable::Jit(jit) => jit.threads(),
            Executable::Interpreter(_) => 1,
        }
    }

    /// The engine that runs this model.
    pub fn engine(&self) -> Engine {
        match &self.executable {
            Executable::Jit(_) => Engine::Jit,
            Executable::Interpreter(_) => Engine::Interpreter,
        }
    }
}

/// Optimises `model` with `weights` bound and prepares it for the chosen engine.
pub fn compile(
    model: &Model,
    weights: &Weights,
    options: &Options,
) -> Result<CompiledModel, Error> {
    let started = std::time::Instant::now();
    let target = Target::host_with(options.tier)?;
    let mut passes = match options.engine {
        Engine::Jit => codegen_passes(&options.passes),
        Engine::Interpreter => options.passes.clone(),
    };
    passes.tier = target.tier;
    if passes.max_memory.is_none() {
        passes.max_memory = options.max_memory;
    }
    let limit = MemoryLimit::from_option(options.max_memory);
    let optimized = model.optimize(Some(weights), &passes)?;
    let executable = match options.engine {
        Engine::Jit => Executable::Jit(Box::new(
            scc_compiler::codegen::jit::CompiledModel::compile_within(
                &optimized.graph,
                weights,
                &target,
                options.threads,
                &limit,
            )?,
        )),
        Engine::Interpreter => {
            let graph = optimized.graph;
            let mut requirement = scc_compiler::interp::run_requirement(&graph);
            for (name, id) in graph.inputs() {
                requirement.add_tensor("inputs", name, &graph.node(*id).shape, "input");
            }
            requirement.check(&limit)?;
            Executable::Interpreter(Box::new(Interpreted {
                graph,
                weights: weights.clone(),
                limit,
                requirement,
            }))
        }
    };
    Ok(CompiledModel {
        executable,
        compile_time: started.elapsed(),
    })
}
