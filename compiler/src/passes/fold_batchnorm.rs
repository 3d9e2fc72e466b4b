//! Batchnorm folding into the preceding conv or linear layer.
//!
//! Assumes a well-formed graph. A `batchnorm` whose operand is a `conv2d` or `linear`
//! without epilogue, read by nothing else and not a model output, disappears: the layer's
//! weight becomes `weight[o] · γ[o]/√(var[o]+ε)` and its bias `(bias[o] − mean[o]) ·
//! γ[o]/√(var[o]+ε) + β[o]` — derived parameters, computed by `fold-constants` when the
//! weights are known. Guarantees the same outputs up to rounding; other batchnorms stay.

use super::{Pass, PassContext};
use crate::ir::{BatchNormParams, Graph, Op, Param, ParamExpr, ParamValue, WeightRole};

pub struct FoldBatchNorm;

impl Pass for FoldBatchNorm {
    fn name(&self) -> &'static str {
        "fold-batchnorm"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = false;
        for id in graph.topological_order() {
            let Op::BatchNorm { eps } = graph.node(id).op else {
                continue;
            };
            let producer = graph.operands(id)[0];
            if graph.users(producer).len() != 1 || graph.is_output(producer) {
                continue;
            }
            let foldable = match &graph.node(producer).op {
                Op::Conv2d(a) => a.epilogue.is_empty(),
                Op::Linear(a) => a.epilogue.is_empty(),
                _ => false,
            };
            if !foldable {
                continue;
            }
            let bn_params = graph.node(id).params.clone();
            let bn = BatchNormParams {
                weight: bn_params[0],
                bias: bn_params[1],
                mean: bn_params[2],
                var: bn_params[3],
                eps,
            };
            let layer_params = graph.node(producer).params.clone();
            let weight = layer_params[0];
            let bias = layer_params.get(1).copied();
            let bn_name = graph.node(id).weight_path.clone().unwrap_or_default();
            let weight_param = graph.param(weight).clone();
            let scaled = graph.add_param(Param {
                name: format!("{}*{bn_name}", weight_param.name),
                shape: weight_param.shape.clone(),
                role: WeightRole::Derived,
                value: ParamValue::Derived(ParamExpr::BatchNormScale { weight, bn }),
            });
            let shifted = graph.add_param(Param {
                name: format!("{bn_name}.shift"),
                shape: vec![weight_param.shape[0]],
                role: WeightRole::Derived,
                value: ParamValue::Derived(ParamExpr::BatchNormShift { bias, bn }),
            });
            let layer = graph.node_mut(producer);
            match &mut layer.op {
                Op::Conv2d(a) => a.bias = true,
                Op::Linear(a) => a.bias = true,
                _ => unreachable!("checked above"),
            }
            layer.params = vec![scaled, shifted];
            graph.replace_all_uses(id, producer);
            graph.remove_node(id);
            changed = true;
        }
        changed
    }
}
