//! The optimisation pipeline: one file per pass, run by a [`PassManager`].
//!
//! Every pass rewrites a well-formed graph (see [`crate::verify`]) into a well-formed
//! graph that computes the same outputs. The manager can check both after every pass:
//! the verifier (on by default in debug builds and tests) and translation validation
//! ([`PassOptions::validate`]), which interprets the graph before and after each pass on
//! seeded random inputs and fails naming the pass and the first differing value.

pub mod choose_execution;
pub mod choose_layout;
mod cse;
mod dce;
mod decompose_structured;
mod fold_batchnorm;
mod fold_constants;
mod fold_pad;
mod fuse_epilogue;
mod fuse_sumpools;
mod select_sumpool_algorithm;

use crate::interp::{self, RunError};
use crate::ir::{Execution, Graph};
use crate::target::Tier;
use crate::weights::{WeightError, Weights};
use scc_runtime::memory::MemoryLimit;
use scc_runtime::random::WeightRng;
use scc_runtime::{MemoryError, Tensor};
use std::collections::BTreeMap;

/// What a pass may read besides the graph.
pub struct PassContext<'w> {
    /// Bound weights, when known: constant folding evaluates weight arithmetic with them.
    pub weights: Option<&'w Weights>,
    /// The vector tier the graph is compiled for (layouts and execution choices follow it).
    pub tier: Tier,
    /// The execution every structured layer gets where available (`None`: the cost model's).
    pub force_execution: Option<Execution>,
}

/// A graph rewrite.
pub trait Pass {
    /// The name used by `--passes` and `--print-after`.
    fn name(&self) -> &'static str;
    /// Rewrites `graph`; returns whether anything changed.
    fn run(&self, graph: &mut Graph, context: &PassContext) -> bool;
}

/// Every pass, in the default pipeline order.
pub fn default_pipeline() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(fold_pad::FoldPad),
        Box::new(choose_execution::ChooseExecution),
        Box::new(decompose_structured::DecomposeStructured),
        Box::new(fold_batchnorm::FoldBatchNorm),
        Box::new(fuse_epilogue::FuseEpilogue),
        Box::new(cse::CommonSubexpressions),
        Box::new(fuse_sumpools::FuseSumPools),
        Box::new(cse::CommonSubexpressions),
        Box::new(dce::DeadNodes),
        Box::new(select_sumpool_algorithm::SelectSumPoolAlgorithm),
        Box::new(fold_constants::FoldConstants),
        Box::new(choose_layout::ChooseLayout),
    ]
}

/// The names of the passes, in pipeline order, without repetition.
pub fn pass_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for pass in default_pipeline() {
        if !names.contains(&pass.name()) {
            names.push(pass.name());
        }
    }
    names
}

/// Which passes run and what is checked after each.
#[derive(Debug, Clone)]
pub struct PassOptions {
    /// Pass names to run (in pipeline order); `None` runs the whole pipeline.
    pub only: Option<Vec<String>>,
    /// Run the verifier after every pass.
    pub verify: bool,
    /// Interpret before and after every pass and compare (translation validation).
    pub validate: bool,
    /// Seed of the random inputs (and of random weights when none are bound) used by validation.
    pub validation_seed: u64,
    /// Passes after which the graph is dumped (`"all"` for every pass).
    pub print_after: Vec<String>,
    /// The most memory translation validation may use, in bytes (`None`: the memory
    /// available on the machine).
    pub max_memory: Option<u64>,
    /// The vector tier the graph is compiled for: `choose-layout` picks channel-blocked
    /// layouts on the wide tiers. The default, the 128-bit tier, keeps every value plain.
    pub tier: Tier,
    /// Structured layers all execute this way where it is available, instead of the cost
    /// model's choice (`choose-execution`).
    pub force_execution: Option<Execution>,
}

impl Default for PassOptions {
    fn default() -> Self {
        PassOptions {
            only: None,
            verify: cfg!(debug_assertions),
            validate: false,
            validation_seed: 0,
            print_after: Vec::new(),
            max_memory: None,
            tier: Tier::V128,
            force_execution: None,
        }
    }
}

impl PassOptions {
    /// No optimisation at all (`--no-opt`).
    pub fn none() -> PassOptions {
        PassOptions {
            only: Some(Vec::new()),
            ..PassOptions::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PassError {
    #[error("unknown pass `{name}`; the passes are: {}", pass_names().join(", "))]
    UnknownPass { name: String },
    #[error("pass `{pass}` produced a malformed graph: {problem}")]
    Malformed { pass: String, problem: String },
    #[error(
        "translation validation failed after pass `{pass}`: output `{output}` differs at flat index {index}: {before} before, {after} after (tolerance {tolerance:e})"
    )]
    Miscompiled {
        pass: String,
        output: String,
        index: usize,
        before: f32,
        after: f32,
        tolerance: f32,
    },
    #[error("translation validation could not run the graph after pass `{pass}`: {problem}")]
    ValidationRun { pass: String, problem: String },
    /// Translation validation would need more memory than allowed.
    #[error("translation validation: {0}")]
    Memory(MemoryError),
}

/// The result of running the pipeline.
#[derive(Debug, Clone)]
pub struct Optimized {
    pub graph: Graph,
    /// `(pass name, dump)` for every pass named by [`PassOptions::print_after`].
    pub dumps: Vec<(String, String)>,
}

/// Runs passes over a graph with optional checks.
pub struct PassManager {
    passes: Vec<Box<dyn Pass>>,
    options: PassOptions,
}

impl PassManager {
    /// The default pipeline restricted to `options.only`.
    pub fn new(options: PassOptions) -> Result<PassManager, PassError> {
        let names = pass_names();
        for name in options
            .only
            .iter()
            .flatten()
            .chain(options.print_after.iter())
        {
            if name != "all" && !names.contains(&name.as_str()) {
                return Err(PassError::UnknownPass { name: name.clone() });
            }
        }
        let passes = default_pipeline()
            .into_iter()
            .filter(|p| {
                options
                    .only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|n| n == p.name()))
            })
            .collect();
        Ok(PassManager { passes, options })
    }

    /// Runs the passes on a copy of `graph`.
    pub fn run(&self, graph: &Graph, weights: Option<&Weights>) -> Result<Optimized, PassError> {
        let mut graph = graph.clone();
        let mut dumps = Vec::new();
        let validation = match self.options.validate {
            true => Some(Validation::new(
                &graph,
                weights,
                self.options.validation_seed,
                MemoryLimit::from_option(self.options.max_memory),
            )?),
            false => None,
        };
        let mut reference = match &validation {
            Some(v) => Some(v.run(&graph, "(none)")?),
            None => None,
        };
        let context = PassContext {
            weights,
            tier: self.options.tier,
            force_execution: self.options.force_execution,
        };
        for pass in &self.passes {
            let changed = pass.run(&mut graph, &context);
            if self.options.verify {
                crate::verify::verify(&graph).map_err(|problem| PassError::Malformed {
                    pass: pass.name().to_string(),
                    problem,
                })?;
            }
            if let (true, Some(validation), Some(before)) = (changed, &validation, &reference) {
                let after = validation.run(&graph, pass.name())?;
                compare(pass.name(), before, &after)?;
                reference = Some(after);
            }
            if self
                .options
                .print_after
                .iter()
                .any(|p| p == "all" || p == pass.name())
            {
                dumps.push((pass.name().to_string(), graph.dump()));
            }
        }
        Ok(Optimized { graph, dumps })
    }
}

/// `graph` with the layouts of `tier` chosen (only the `choose-layout` pass, verified): what
/// code generation for `tier` needs after the other passes.
pub fn with_layouts(graph: &Graph, tier: Tier) -> Result<Graph, PassError> {
    let options = PassOptions {
        only: Some(vec!["choose-layout".to_string()]),
        verify: true,
        tier,
        ..PassOptions::default()
    };
    Ok(PassManager::new(options)?.run(graph, None)?.graph)
}

/// Inputs and weights for translation validation.
struct Validation {
    weights: Weights,
    inputs: BTreeMap<String, Tensor>,
    limit: MemoryLimit,
}

impl Validation {
    /// Random weights (unless bound) and inputs, after checking that they and a run of the
    /// graph fit in `limit`.
    fn new(
        graph: &Graph,
        weights: Option<&Weights>,
        seed: u64,
        limit: MemoryLimit,
    ) -> Result<Validation, PassError> {
        let mut need = interp::run_requirement(graph);
        for (name, id) in graph.inputs() {
            need.add_tensor("inputs", name, &graph.node(*id).shape, "input");
        }
        need.check(&limit).map_err(PassError::Memory)?;
        let weights = match weights {
            Some(w) => w.clone(),
            None => Weights::random_within(graph, seed, &limit).map_err(|e| match e {
                WeightError::Memory(e) => PassError::Memory(e),
                other => PassError::ValidationRun {
                    pass: "(none)".into(),
                    problem: other.to_string(),
                },
            })?,
        };
        let mut inputs = BTreeMap::new();
        for (i, (name, id)) in graph.inputs().iter().enumerate() {
            let mut rng = WeightRng::new(seed.wrapping_add(1000 + i as u64));
            let tensor = rng
                .try_uniform(graph.node(*id).shape.as_slice(), 1.0)
                .map_err(PassError::Memory)?;
            inputs.insert(name.clone(), tensor);
        }
        Ok(Validation {
            weights,
            inputs,
            limit,
        })
    }

    fn run(&self, graph: &Graph, pass: &str) -> Result<Vec<(String, Tensor)>, PassError> {
        interp::run_with(graph, &self.weights, &self.inputs, &self.limit, None).map_err(|e| match e
        {
            RunError::Memory(e) => PassError::Memory(e),
            other => PassError::ValidationRun {
                pass: pass.to_string(),
                problem: other.to_string(),
            },
        })
    }
}

/// The contract's tolerance: max |after − before| ≤ 1e-4 · max(1, max |before|).
fn compare(
    pass: &str,
    before: &[(String, Tensor)],
    after: &[(String, Tensor)],
) -> Result<(), PassError> {
    for ((name, b), (_, a)) in before.iter().zip(after) {
        let tolerance = 1e-4 * b.data().iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let differing = b.shape() != a.shape();
        let first = b
            .data()
            .iter()
            .zip(a.data())
            .position(|(x, y)| (x - y).abs().is_nan() || (x - y).abs() > tolerance);
        if differing || first.is_some() {
            let index = first.unwrap_or(0);
            return Err(PassError::Miscompiled {
                pass: pass.to_string(),
                output: name.clone(),
                index,
                before: b.data().get(index).copied().unwrap_or(f32::NAN),
                after: a.data().get(index).copied().unwrap_or(f32::NAN),
                tolerance,
            });
        }
    }
    Ok(())
}
