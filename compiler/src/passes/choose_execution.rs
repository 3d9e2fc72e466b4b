//! Execution choice: for every structured conv layer, whether it runs decomposed (a sum-pool
//! pass into memory, then the small conv over `alpha`), fused (the small conv computes the
//! channel sum-pool inside its register tiles) or composed (one dense conv over the kernel
//! rebuilt from `alpha`).
//!
//! Assumes a well-formed graph with its structured layers not yet decomposed (it runs before
//! `decompose-structured` carries the choice out). Guarantees every `sconv2d` records an
//! execution its tier can run: fused only for 1×1 layers with a channel-only box, no padding
//! and one group on the wide tiers (where `choose-layout` places the pool in the conv's tiles,
//! or falls back to decomposed if sum-pool sharing gave the pool a second user). Values are
//! unchanged up to rounding (every execution computes the same convolution).
//!
//! The choice is the cheapest estimate of a roofline-style cost model of the tier: time =
//! flops / the tier's rate for the op family + bytes moved / a per-core memory rate, summed
//! over the nodes an execution produces ([`costs`]). Deterministic (no timing), so a model
//! compiles to the same program every time. `PassOptions::force_execution` overrides it where
//! the forced execution is available.

use super::{Pass, PassContext};
use crate::ir::{Execution, Graph, Op, StructuredConvAttrs};
use crate::target::Tier;
use scc_runtime::structure::structure_box;

pub struct ChooseExecution;

/// Flops per nanosecond of one core: dense and grouped convs, depthwise convs, sum-pool adds.
fn rates(tier: Tier) -> (f64, f64, f64) {
    match tier {
        Tier::V128 => (35.0, 8.0, 8.0),
        Tier::Avx2 | Tier::Avx512 => (90.0, 25.0, 30.0),
    }
}

/// Bytes per nanosecond one core moves through the caches layers share.
const BYTES_PER_NS: f64 = 10.0;

/// Nanoseconds per input and per pooled channel of one pixel's channel-only sum-pool (the
/// vector prefix/suffix scans of `scc_kernels::ops::pool_pixel`, run per pixel whether the
/// pool is fused into the conv's tiles or a pass of its own). Calibrated on the AVX2 tier
/// (Zen 3) by mobilenetv2s' 32 → 16 projection at 112×112 (c = 16), 0.53 ms fused against
/// 0.29 ms composed at one thread: projections to few channels run faster composed.
const CHANNEL_POOL_NS_PER_CHANNEL: f64 = 0.25;

/// Whether a fused execution exists for the layer on `tier`.
pub fn can_fuse(a: &StructuredConvAttrs, input: &[usize], tier: Tier) -> bool {
    let cg = input[1] / a.groups;
    tier.is_wide()
        && a.kernel == (1, 1)
        && a.pad == (0, 0)
        && a.groups == 1
        && a.c < cg
        && input[1] <= scc_kernels::abi::MAX_POOL_CHANNELS
}

/// Estimated nanoseconds of each execution of the layer on `tier` (`None` where unavailable),
/// in [`Execution::ALL`] order.
pub fn costs(
    a: &StructuredConvAttrs,
    input: &[usize],
    output: &[usize],
    tier: Tier,
) -> [Option<f64>; 3] {
    let (conv_rate, depthwise_rate, add_rate) = rates(tier);
    let (n, c) = (input[0], input[1]);
    let cg = c / a.groups;
    let depthwise = a.groups > 1 && cg == 1;
    let rate = if depthwise { depthwise_rate } else { conv_rate };
    let in_elements: usize = input.iter().product();
    let out_elements: usize = output.iter().product();
    let window = structure_box(cg, a.c, a.kernel.0, a.n.0, a.kernel.1, a.n.1);
    let pooled = n
        * a.groups
        * (cg - window.0 + 1)
        * (input[2] + 2 * if window.1 > 1 { a.pad.0 } else { 0 } - window.1 + 1)
        * (input[3] + 2 * if window.2 > 1 { a.pad.1 } else { 0 } - window.2 + 1);
    let bytes = |elements: usize| 4.0 * elements as f64 / BYTES_PER_NS;
    let dense_flops = 2.0 * (out_elements * cg * a.kernel.0 * a.kernel.1) as f64;
    let small_flops = 2.0 * (out_elements * a.c * a.n.0 * a.n.1) as f64;
    let pooled_channels = a.groups * (cg - window.0 + 1);
    let pool_ns = if window.1 == 1 && window.2 == 1 {
        // A channel-only box: per pixel, scans over the input channels and the pooled ones.
        let pixels = (pooled / pooled_channels) as f64;
        CHANNEL_POOL_NS_PER_CHANNEL * pixels * (c + pooled_channels) as f64
    } else {
        // Running sums over rows and columns: a few adds per pooled value.
        4.0 * pooled as f64 / add_rate
    };
    let composed = dense_flops / rate + bytes(in_elements + out_elements);
    let decomposed = pool_ns + small_flops / rate + bytes(in_elements + 2 * pooled + out_elements);
    let fused = can_fuse(a, input, tier)
        .then(|| pool_ns + small_flops / rate + bytes(in_elements + out_elements));
    [Some(decomposed), fused, Some(composed)]
}

/// The execution of a layer: `forced` where available, else the cheapest.
pub fn choose(
    a: &StructuredConvAttrs,
    input: &[usize],
    output: &[usize],
    tier: Tier,
    forced: Option<Execution>,
) -> Execution {
    let estimates = costs(a, input, output, tier);
    if let Some(forced) = forced {
        let index = Execution::ALL
            .iter()
            .position(|e| *e == forced)
            .expect("listed");
        if estimates[index].is_some() {
            return forced;
        }
    }
    Execution::ALL
        .iter()
        .zip(estimates)
        .filter_map(|(e, t)| t.map(|t| (*e, t)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map_or(Execution::Decomposed, |(e, _)| e)
}

impl Pass for ChooseExecution {
    fn name(&self) -> &'static str {
        "choose-execution"
    }

    fn run(&self, graph: &mut Graph, context: &PassContext) -> bool {
        let mut changed = false;
        for id in graph.node_ids() {
            let Op::StructuredConv2d(a) = &graph.node(id).op else {
                continue;
            };
            let input = graph.node(graph.operands(id)[0]).shape.clone();
            let output = graph.node(id).shape.clone();
            let execution = choose(a, &input, &output, context.tier, context.force_execution);
            if let Op::StructuredConv2d(a) = &mut graph.node_mut(id).op
                && a.execution != Some(execution)
            {
                a.execution = Some(execution);
                changed = true;
            }
        }
        changed
    }
}
