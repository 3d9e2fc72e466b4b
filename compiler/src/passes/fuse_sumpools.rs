//! Sum-pool fusion: the language's `sumpool` joins the 3-D sum-pool path, chains of
//! sum-pools merge, and sum-pools reading the same tensor share their common work.
//!
//! Assumes a well-formed graph (after `decompose-structured`). Box sums compose into a
//! box only along axes where one of the two boxes is 1 wide (two boxes along the same
//! axis compose into a trapezoid), so:
//! - every `sumpool` becomes a `sumpool3d` with channel window 1 (groups normalised to 1
//!   whenever the channel window is 1);
//! - a `sumpool3d` read only by another `sumpool3d` merges with it when, on every axis, one
//!   of the two windows is 1 (and the padding of the outer pool lies only on axes where
//!   the inner window is 1);
//! - of two `sumpool3d` nodes reading the same tensor, the one whose box *extends* the
//!   other's (on every axis the smaller window is 1 or equal to the larger) is computed
//!   from the smaller one's output by a residual pool over the remaining axes: e.g. a
//!   downsampling block's 3×3 structured conv (box 33×2×2) reuses the channel sums of its
//!   1×1 structured shortcut (box 33×1×1). Identical pools are left to `cse` (which runs
//!   before and after this pass). A pool merges with, or is computed from, only pools of
//!   stride 1.
//!
//! Guarantees the same outputs (exactly, up to float rounding), with no more additions.

use super::{Pass, PassContext};
use crate::ir::{Graph, NodeId, Op, SumPool3dAttrs, SumPoolAlgorithm};

pub struct FuseSumPools;

impl Pass for FuseSumPools {
    fn name(&self) -> &'static str {
        "fuse-sumpools"
    }

    fn run(&self, graph: &mut Graph, _: &PassContext) -> bool {
        let mut changed = lift_language_sumpools(graph);
        loop {
            let step = merge_chains(graph) || share_neighbours(graph);
            if !step {
                return changed;
            }
            changed = true;
        }
    }
}

fn sumpool3d(graph: &Graph, id: NodeId) -> Option<SumPool3dAttrs> {
    match &graph.node(id).op {
        Op::SumPool3d(a) => Some(a.clone()),
        _ => None,
    }
}

/// Channel windows of 1 make groups irrelevant; normalise them to 1 so pools compare equal.
fn normalised(mut attrs: SumPool3dAttrs) -> SumPool3dAttrs {
    if attrs.window.0 == 1 {
        attrs.groups = 1;
    }
    attrs
}

fn lift_language_sumpools(graph: &mut Graph) -> bool {
    let mut changed = false;
    for id in graph.node_ids() {
        let node = graph.node_mut(id);
        let lifted = match &node.op {
            Op::SumPool(p) => SumPool3dAttrs {
                groups: 1,
                window: (1, p.kernel.0, p.kernel.1),
                pad: p.pad,
                stride: p.stride,
                algorithm: SumPoolAlgorithm::Direct,
            },
            Op::SumPool3d(a) if a.window.0 == 1 && a.groups != 1 => normalised(a.clone()),
            _ => continue,
        };
        node.op = Op::SumPool3d(lifted);
        changed = true;
    }
    changed
}

/// Merges `outer(inner(x))` into one pool where the boxes compose into a box.
fn merge_chains(graph: &mut Graph) -> bool {
    for outer_id in graph.topological_order() {
        let Some(outer) = sumpool3d(graph, outer_id) else {
            continue;
        };
        let inner_id = graph.operands(outer_id)[0];
        let Some(inner) = sumpool3d(graph, inner_id) else {
            continue;
        };
        if graph.users(inner_id).len() != 1 || graph.is_output(inner_id) || inner.stride != (1, 1) {
            continue;
        }
        let Some(merged) = compose(&inner, &outer) else {
            continue;
        };
        let x = graph.operands(inner_id)[0];
        graph.node_mut(outer_id).op = Op::SumPool3d(merged);
        graph.set_operands(outer_id, &[x]);
        graph.remove_node(inner_id);
        return true;
    }
    false
}

/// The single pool equal to `second(first(x))`, if the boxes compose into a box
/// (`first` has stride 1).
fn compose(first: &SumPool3dAttrs, second: &SumPool3dAttrs) -> Option<SumPool3dAttrs> {
    let windows = [
        (first.window.0, second.window.0),
        (first.window.1, second.window.1),
        (first.window.2, second.window.2),
    ];
    if windows.iter().any(|&(a, b)| a > 1 && b > 1) {
        return None;
    }
    // Padding of the second pool on an axis the first one sums over is not a box.
    if (first.window.1 > 1 && second.pad.0 > 0) || (first.window.2 > 1 && second.pad.1 > 0) {
        return None;
    }
    let groups = if first.window.0 > 1 {
        first.groups
    } else {
        second.groups
    };
    Some(normalised(SumPool3dAttrs {
        groups,
        window: (
            first.window.0.max(second.window.0),
            first.window.1.max(second.window.1),
            first.window.2.max(second.window.2),
        ),
        pad: (first.pad.0 + second.pad.0, first.pad.1 + second.pad.1),
        stride: second.stride,
        algorithm: SumPoolAlgorithm::Direct,
    }))
}

/// The pool `r` with `r(small(x)) == big(x)`, if `big`'s box extends `small`'s.
fn residual(small: &SumPool3dAttrs, big: &SumPool3dAttrs) -> Option<SumPool3dAttrs> {
    if small.stride != (1, 1) {
        return None;
    }
    let axis = |s: usize, b: usize, s_pad: usize, b_pad: usize| -> Option<(usize, usize)> {
        if s == 1 && b_pad >= s_pad {
            Some((b, b_pad - s_pad))
        } else if s == b && s_pad == b_pad {
            Some((1, 0))
        } else {
            None
        }
    };
    let (wh, ph) = axis(small.window.1, big.window.1, small.pad.0, big.pad.0)?;
    let (ww, pw) = axis(small.window.2, big.window.2, small.pad.1, big.pad.1)?;
    let (wc, groups) = if small.window.0 == 1 {
        (big.window.0, big.groups)
    } else if small.window.0 == big.window.0 && small.groups == big.groups {
        (1, 1)
    } else {
        return None;
    };
    Some(normalised(SumPool3dAttrs {
        groups,
        window: (wc, wh, ww),
        pad: (ph, pw),
        stride: big.stride,
        algorithm: SumPoolAlgorithm::Direct,
    }))
}

fn volume(a: &SumPool3dAttrs) -> usize {
    a.window.0 * a.window.1 * a.window.2
}

/// Rewrites one pool to be computed from a smaller pool of the same tensor.
fn share_neighbours(graph: &mut Graph) -> bool {
    for big_id in graph.topological_order() {
        let Some(big) = sumpool3d(graph, big_id) else {
            continue;
        };
        let x = graph.operands(big_id)[0];
        let best = graph
            .users(x)
            .into_iter()
            .filter(|&other| other != big_id)
            .filter_map(|other| {
                let small = sumpool3d(graph, other)?;
                if volume(&small) >= volume(&big) {
                    return None;
                }
                let r = residual(&small, &big)?;
                (r != big).then_some((volume(&small), other, r))
            })
            .max_by_key(|(v, id, _)| (*v, std::cmp::Reverse(*id)));
        if let Some((_, small_id, r)) = best {
            let identity = r.window == (1, 1, 1) && r.pad == (0, 0) && r.stride == (1, 1);
            if identity {
                graph.replace_all_uses(big_id, small_id);
                graph.remove_node(big_id);
            } else {
                graph.node_mut(big_id).op = Op::SumPool3d(r);
                graph.set_operands(big_id, &[small_id]);
            }
            return true;
        }
    }
    false
}
