//! Constant folding of weight arithmetic.
//!
//! Assumes a well-formed graph and, to do anything, bound weights in the context. Every
//! derived parameter a live node reads (e.g. a batchnorm folded into a conv) is evaluated
//! once, at compile time, and becomes a constant. Guarantees the same outputs; without
//! weights (e.g. `scc check`) the graph is left unchanged.

use super::{Pass, PassContext};
use crate::ir::{Graph, ParamValue};
use crate::params::ParamCache;

pub struct FoldConstants;

impl Pass for FoldConstants {
    fn name(&self) -> &'static str {
        "fold-constants"
    }

    fn run(&self, graph: &mut Graph, context: &PassContext) -> bool {
        let Some(weights) = context.weights else {
            return false;
        };
        let derived: Vec<_> = graph
            .live_params()
            .into_iter()
            .filter(|&p| matches!(graph.param(p).value, ParamValue::Derived(_)))
            .collect();
        let mut cache = ParamCache::new(graph, weights);
        let mut values = Vec::new();
        for p in &derived {
            match cache.get(graph, *p) {
                Ok(value) => values.push((*p, value)),
                // A weight missing from the bound set: leave the arithmetic to run time.
                Err(_) => return false,
            }
        }
        for (p, value) in values {
            graph.param_mut(p).value = ParamValue::Constant(value);
        }
        !derived.is_empty()
    }
}
