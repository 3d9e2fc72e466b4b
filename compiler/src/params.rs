//! Parameter values: external weights by name, constants, and derived parameters evaluated
//! from their weight arithmetic ([`ParamExpr`], e.g. a batchnorm folded into a conv).
//!
//! The one place that turns a graph's parameter table and bound [`Weights`] into tensors:
//! the interpreter, constant folding and code generation all read parameters through a
//! [`ParamCache`]. Derived values are allocated fallibly.

use crate::ir::{BatchNormParams, Graph, NodeId, ParamExpr, ParamId, ParamValue};
use crate::weights::Weights;
use scc_runtime::Tensor;
use scc_runtime::memory::{MemoryError, try_collect};
use std::collections::HashMap;
use std::sync::Arc;

/// Why a parameter has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("weight `{name}` is not bound")]
    Missing { name: String },
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// Parameter values of one graph, resolved from bound weights on first use: external
/// parameters by name, derived ones by evaluating their weight arithmetic.
pub struct ParamCache<'w> {
    weights: &'w Weights,
    values: Vec<Option<Arc<Tensor>>>,
}

impl<'w> ParamCache<'w> {
    pub fn new(graph: &Graph, weights: &'w Weights) -> ParamCache<'w> {
        ParamCache {
            weights,
            values: vec![None; graph.param_ids().count()],
        }
    }

    /// The value of `id`.
    pub fn get(&mut self, graph: &Graph, id: ParamId) -> Result<Arc<Tensor>, ParamError> {
        if let Some(value) = &self.values[id.index()] {
            return Ok(value.clone());
        }
        let param = graph.param(id);
        let value = match &param.value {
            ParamValue::External => Arc::new(
                self.weights
                    .get(&param.name)
                    .ok_or_else(|| ParamError::Missing {
                        name: param.name.clone(),
                    })?
                    .clone(),
            ),
            ParamValue::Constant(t) => t.clone(),
            ParamValue::Derived(expr) => {
                let mut operands = HashMap::new();
                for operand in expr.operands() {
                    operands.insert(operand, self.get(graph, operand)?);
                }
                Arc::new(derive(expr, &|p| operands[&p].as_ref())?)
            }
        };
        self.values[id.index()] = Some(value.clone());
        Ok(value)
    }

    /// The values of a node's parameters, in order.
    pub fn node_params(
        &mut self,
        graph: &Graph,
        id: NodeId,
    ) -> Result<Vec<Arc<Tensor>>, ParamError> {
        graph
            .node(id)
            .params
            .clone()
            .into_iter()
            .map(|p| self.get(graph, p))
            .collect()
    }
}

/// Evaluates compile-time weight arithmetic; `operand` gives the value of each parameter
/// the expression reads.
pub fn derive<'a>(
    expr: &ParamExpr,
    operand: &dyn Fn(ParamId) -> &'a Tensor,
) -> Result<Tensor, MemoryError> {
    let factors = |bn: &BatchNormParams| -> Vec<f32> {
        let gamma = operand(bn.weight).data();
        let var = operand(bn.var).data();
        gamma
            .iter()
            .zip(var)
            .map(|(g, v)| g / (v + bn.eps).sqrt())
            .collect()
    };
    match expr {
        ParamExpr::BatchNormScale { weight, bn } => {
            let scale = factors(bn);
            let weight = operand(*weight);
            let row = weight.len() / scale.len();
            let scaled = weight
                .data()
                .iter()
                .enumerate()
                .map(|(i, w)| w * scale[i / row]);
            let data = try_collect(weight.len(), scaled, || {
                "a folded batchnorm's scaled weight".to_string()
            })?;
            Ok(Tensor::new(weight.shape().to_vec(), data).expect("same shape"))
        }
        ParamExpr::ComposeStructured {
            alpha,
            group_channels,
            kernel,
        } => Ok(scc_runtime::structure::compose_alpha(
            operand(*alpha),
            *group_channels,
            kernel.0,
            kernel.1,
        )),
        ParamExpr::BatchNormShift { bias, bn } => {
            let scale = factors(bn);
            let beta = operand(bn.bias).data();
            let mean = operand(bn.mean).data();
            let data = (0..scale.len())
                .map(|o| {
                    let b = bias.map_or(0.0, |b| operand(b).data()[o]);
                    (b - mean[o]) * scale[o] + beta[o]
                })
                .collect();
            Ok(Tensor::new(vec![scale.len()], data).expect("one value per channel"))
        }
    }
}
