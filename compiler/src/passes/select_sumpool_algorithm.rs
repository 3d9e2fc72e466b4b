//! Sum-pool algorithm selection.
//!
//! Assumes a well-formed graph. Chooses, for every `sumpool3d` node, the algorithm that
//! executes fewer additions for its concrete shape: separable running sums (width, then
//! height, then channels, the channel sums one running sum per group shared by every
//! output channel) or the direct window sum. The choice is visible in the dump and counted
//! by the cost report. Guarantees the same outputs up to rounding.

use super::{Pass, PassContext};
use crate::ir::{Graph, Op, SumPoolAlgorithm};
use scc_runtime::sumpool::{self, SumPoolSpec};

pub struct SelectSumPoolAlgorithm;

impl Pass for SelectSumPoolAlgorithm {
    fn name(&self) -> &'static str {
        "select-sumpool-algorithm"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = false;
        for id in graph.node_ids() {
            let input = match graph.operands(id).first() {
                Some(&operand) => graph.node(operand).shape.clone(),
                None => continue,
            };
            let Op::SumPool3d(attrs) = &mut graph.node_mut(id).op else {
                continue;
            };
            let spec = SumPoolSpec {
                groups: attrs.groups,
                window: attrs.window,
                pad: attrs.pad,
                stride: attrs.stride,
            };
            let running = sumpool::sumpool_running_adds(&input, &spec);
            let direct = sumpool::sumpool_direct_adds(&input, &spec);
            let choice = if running <= direct {
                SumPoolAlgorithm::RunningSum
            } else {
                SumPoolAlgorithm::Direct
            };
            if attrs.algorithm != choice {
                attrs.algorithm = choice;
                changed = true;
            }
        }
        changed
    }
}
