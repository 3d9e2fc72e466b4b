//! Liveness-based memory planning: place tensors in one arena so that tensors that are
//! never alive at the same time share bytes.
//!
//! The planner is independent of the IR: it takes plain [`Buffer`]s (a size and an inclusive
//! live range of schedule steps) and returns one offset per buffer into a single arena.
//!
//! **Assumes:** each buffer is written at step `first` and last read at step `last`, with
//! `first <= last`; steps are any totally ordered numbering of the schedule (they need not be
//! dense). A buffer is alive on every step of `[first, last]`, both ends included, so a
//! buffer last read at step `s` and one first written at step `s` do *not* share memory (an op
//! may read its input while writing its output). `alignment` is a power of two. The sum of all
//! sizes, each rounded up to `alignment`, fits in `usize`.
//!
//! **Guarantees** (checked by [`verify`], which the tests run on random inputs):
//! - two buffers whose live ranges overlap occupy disjoint byte ranges;
//! - every offset is a multiple of `alignment`, and `offset + bytes <= arena_bytes`;
//! - zero-byte buffers get offset 0 (they occupy no bytes and conflict with nothing);
//! - `lower_bound(buffers) <= arena_bytes <= Σ round_up(bytes, alignment)`, so the plan is
//!   never worse than giving every buffer its own aligned slot (with `alignment == 1`,
//!   `arena_bytes <= naive_bytes`);
//! - the result is deterministic (it depends only on the inputs, not on hashing or timing).
//!
//! **Heuristic:** "greedy by size" as in TFLite's memory planners: buffers are taken in
//! decreasing size (ties: earlier `first`, then input order) and each is put in a gap left by
//! the already placed buffers it overlaps in time, or after them. The plan is computed twice,
//! choosing the lowest fitting gap (first fit) and the smallest fitting gap (best fit, TFLite
//! GPU's `GreedyBySize`), and the smaller arena wins. Cost: O(n log n + P log P) for n buffers
//! of which P pairs are alive together (the buffers a placement must avoid are found without
//! scanning all pairs), so a chain of 100,000 nodes plans in milliseconds.

/// One tensor to place: it is written at step `first` and last read at step `last`
/// (inclusive; `first <= last`), `bytes` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Buffer {
    pub first: usize,
    pub last: usize,
    pub bytes: usize,
}

impl Buffer {
    /// Whether the live ranges of `self` and `other` share a step.
    pub fn overlaps_in_time(&self, other: &Buffer) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Where each buffer lives in the arena.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// One offset per buffer, in the order the buffers were given.
    pub offsets: Vec<usize>,
    /// Bytes the arena needs: the largest `offset + bytes` (0 if every buffer is empty).
    pub arena_bytes: usize,
    /// Sum of all buffer sizes: what giving every buffer its own memory would cost
    /// (ignoring alignment padding).
    pub naive_bytes: usize,
    /// The alignment every offset is a multiple of.
    pub alignment: usize,
}

/// Which gap a buffer goes into when several fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    /// The lowest offset that fits.
    First,
    /// The smallest gap that fits; after everything if none does.
    Best,
}

/// Plans the buffers into one arena; see the [module docs](self) for what is guaranteed.
///
/// # Panics
/// If `alignment` is not a power of two, or a buffer has `first > last` (both are
/// programming errors of the caller, not user errors).
pub fn plan(buffers: &[Buffer], alignment: usize) -> MemoryPlan {
    assert!(
        alignment.is_power_of_two(),
        "memory plan alignment must be a power of two, got {alignment}"
    );
    for (i, b) in buffers.iter().enumerate() {
        assert!(
            b.first <= b.last,
            "buffer {i} has first step {} after last step {}",
            b.first,
            b.last
        );
    }

    // Decreasing size; ties by earlier first use, then input order (deterministic).
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    order.sort_by(|&a, &b| {
        buffers[b]
            .bytes
            .cmp(&buffers[a].bytes)
            .then(buffers[a].first.cmp(&buffers[b].first))
            .then(a.cmp(&b))
    });

    let overlaps = Overlaps::new(buffers);
    let first_fit = place(buffers, &overlaps, &order, alignment, Fit::First);
    let best_fit = place(buffers, &overlaps, &order, alignment, Fit::Best);
    let offsets = if arena_of(buffers, &best_fit) < arena_of(buffers, &first_fit) {
        best_fit
    } else {
        first_fit
    };
    MemoryPlan {
        arena_bytes: arena_of(buffers, &offsets),
        naive_bytes: buffers.iter().map(|b| b.bytes).sum(),
        offsets,
        alignment,
    }
}

/// For every buffer, the other non-empty buffers whose live ranges overlap its own, found in
/// time proportional to their number (no scan over all pairs): those that start within its
/// range (a contiguous run of the buffers sorted by first step) and those that started
/// earlier and are still alive at its first step (a sweep over the first steps).
struct Overlaps {
    /// Non-empty buffers by `(first, index)`.
    by_first: Vec<usize>,
    /// For each buffer, the index of its `earlier` snapshot.
    snapshot_of: Vec<usize>,
    /// Per distinct first step: the buffers that started before it and are alive at it.
    earlier: Vec<Vec<usize>>,
}

impl Overlaps {
    fn new(buffers: &[Buffer]) -> Overlaps {
        let mut by_first: Vec<usize> = (0..buffers.len())
            .filter(|&i| buffers[i].bytes > 0)
            .collect();
        by_first.sort_unstable_by_key(|&i| (buffers[i].first, i));
        let mut snapshot_of = vec![0; buffers.len()];
        let mut earlier = Vec::new();
        let mut active: Vec<usize> = Vec::new();
        let mut k = 0;
        while k < by_first.len() {
            let first = buffers[by_first[k]].first;
            active.retain(|&j| buffers[j].last >= first);
            earlier.push(active.clone());
            let start = k;
            while k < by_first.len() && buffers[by_first[k]].first == first {
                snapshot_of[by_first[k]] = earlier.len() - 1;
                k += 1;
            }
            active.extend_from_slice(&by_first[start..k]);
        }
        Overlaps {
            by_first,
            snapshot_of,
            earlier,
        }
    }

    /// Calls `f` with every buffer other than `i` alive on some step of `i`'s range.
    fn each(&self, buffers: &[Buffer], i: usize, mut f: impl FnMut(usize)) {
        let b = &buffers[i];
        for &j in &self.earlier[self.snapshot_of[i]] {
            f(j);
        }
        let from = self
            .by_first
            .partition_point(|&j| buffers[j].first < b.first);
        for &j in &self.by_first[from..] {
            if buffers[j].first > b.last {
                break;
            }
            if j != i {
                f(j);
            }
        }
    }
}

/// Greedy placement of `buffers` in the given `order`. Cost: O(n log n + P log P) for `P`
/// pairs of buffers alive together.
fn place(
    buffers: &[Buffer],
    overlaps: &Overlaps,
    order: &[usize],
    alignment: usize,
    fit: Fit,
) -> Vec<usize> {
    let mut offsets = vec![0; buffers.len()];
    let mut placed = vec![false; buffers.len()];
    // Scratch: (offset, end) of the placed buffers alive together with the current one.
    let mut busy: Vec<(usize, usize)> = Vec::new();
    for &i in order {
        let b = &buffers[i];
        if b.bytes == 0 {
            continue; // offset 0, occupies nothing
        }
        busy.clear();
        overlaps.each(buffers, i, |j| {
            if placed[j] {
                busy.push((offsets[j], offsets[j] + buffers[j].bytes));
            }
        });
        busy.sort_unstable();

        // Walk the gaps between the busy ranges (which may overlap one another: they need
        // not be alive at the same time as each other).
        let mut candidate = 0; // always aligned
        let mut chosen: Option<(usize, usize)> = None; // (offset, gap size)
        for &(start, end) in &busy {
            if start >= candidate && start - candidate >= b.bytes {
                let gap = start - candidate;
                match fit {
                    Fit::First => {
                        chosen = Some((candidate, gap));
                        break;
                    }
                    Fit::Best => {
                        if chosen.is_none_or(|(_, best)| gap < best) {
                            chosen = Some((candidate, gap));
                        }
                    }
                }
            }
            candidate = candidate.max(round_up(end, alignment));
        }
        offsets[i] = match chosen {
            Some((offset, _)) => offset,
            None => candidate, // after everything alive with it
        };
        placed[i] = true;
    }
    offsets
}

fn arena_of(buffers: &[Buffer], offsets: &[usize]) -> usize {
    buffers
        .iter()
        .zip(offsets)
        .filter(|(b, _)| b.bytes > 0)
        .map(|(b, &o)| o + b.bytes)
        .max()
        .unwrap_or(0)
}

/// Rounds `x` up to a multiple of `alignment` (a power of two).
fn round_up(x: usize, alignment: usize) -> usize {
    (x + (alignment - 1)) & !(alignment - 1)
}

/// A lower bound on the arena of any valid plan: the largest total size of the buffers alive
/// at one step. (Alignment padding can make the best plan larger than this.)
pub fn lower_bound(buffers: &[Buffer]) -> usize {
    // Sweep: +bytes at `first`, -bytes just after `last`; the live total at a step is the
    // running sum after applying every event at that step.
    let mut events: Vec<(usize, bool, usize)> = Vec::with_capacity(2 * buffers.len());
    for b in buffers.iter().filter(|b| b.bytes > 0) {
        events.push((b.first, true, b.bytes));
        if let Some(after) = b.last.checked_add(1) {
            events.push((after, false, b.bytes));
        }
    }
    // At the same step, frees (false) sort before allocations (true).
    events.sort_unstable();
    let (mut live, mut max) = (0usize, 0usize);
    for (_, alloc, bytes) in events {
        if alloc {
            live += bytes;
            max = max.max(live);
        } else {
            live -= bytes;
        }
    }
    max
}

/// Checks `plan` against `buffers`: one offset per buffer, offsets aligned, every buffer
/// within the arena, and no two buffers with overlapping live ranges sharing a byte.
/// Returns the first problem found.
pub fn verify(buffers: &[Buffer], plan: &MemoryPlan) -> Result<(), String> {
    if plan.offsets.len() != buffers.len() {
        return Err(format!(
            "{} offsets for {} buffers",
            plan.offsets.len(),
            buffers.len()
        ));
    }
    if !plan.alignment.is_power_of_two() {
        return Err(format!(
            "alignment {} is not a power of two",
            plan.alignment
        ));
    }
    for (i, (b, &o)) in buffers.iter().zip(&plan.offsets).enumerate() {
        if b.first > b.last {
            return Err(format!(
                "buffer {i}: first step {} after last step {}",
                b.first, b.last
            ));
        }
        if o % plan.alignment != 0 {
            return Err(format!(
                "buffer {i}: offset {o} is not a multiple of {}",
                plan.alignment
            ));
        }
        match o.checked_add(b.bytes) {
            Some(end) if end <= plan.arena_bytes => {}
            _ => {
                return Err(format!(
                    "buffer {i}: [{o}, {o}+{}) exceeds the arena of {} bytes",
                    b.bytes, plan.arena_bytes
                ));
            }
        }
    }
    for (i, a) in buffers.iter().enumerate() {
        if a.bytes == 0 {
            continue;
        }
        let (ao, ae) = (plan.offsets[i], plan.offsets[i] + a.bytes);
        for (j, b) in buffers.iter().enumerate().skip(i + 1) {
            if b.bytes == 0 || !a.overlaps_in_time(b) {
                continue;
            }
            let (bo, be) = (plan.offsets[j], plan.offsets[j] + b.bytes);
            if ao < be && bo < ae {
                return Err(format!(
                    "buffers {i} (steps {}..={}, bytes [{ao}, {ae})) and {j} (steps {}..={}, \
                     bytes [{bo}, {be})) are alive together and share memory",
                    a.first, a.last, b.first, b.last
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn buf(first: usize, last: usize, bytes: usize) -> Buffer {
        Buffer { first, last, bytes }
    }

    fn planned(buffers: &[Buffer], alignment: usize) -> MemoryPlan {
        let p = plan(buffers, alignment);
        verify(buffers, &p).unwrap();
        assert!(p.arena_bytes >= lower_bound(buffers));
        p
    }

    #[test]
    fn chain_of_three_reuses_the_first_buffer() {
        // x0 -> op1 -> x1 -> op2 -> x2: x0 and x2 are never alive together.
        let buffers = [buf(0, 1, 100), buf(1, 2, 100), buf(2, 3, 100)];
        let p = planned(&buffers, 64);
        assert_eq!(p.offsets[0], p.offsets[2]);
        assert_ne!(p.offsets[0], p.offsets[1]);
        assert_eq!(p.arena_bytes, 128 + 100); // two buffers, the second aligned
        assert_eq!(p.naive_bytes, 300);
        assert_eq!(lower_bound(&buffers), 200);
    }

    #[test]
    fn residual_keeps_its_input_alive() {
        // x0 feeds op1 and the add at step 3: x0, x1 at step 2; x0, x2 at step 3.
        let buffers = [
            buf(0, 3, 64), // x0, read by op1 and by the add
            buf(1, 2, 64), // x1 = op1(x0)
            buf(2, 3, 64), // x2 = op2(x1)
            buf(3, 4, 64), // x3 = x0 + x2
        ];
        let p = planned(&buffers, 64);
        assert_eq!(p.arena_bytes, 192);
        assert_eq!(lower_bound(&buffers), 192);
        // x1 is dead by the time x3 is written, so x3 reuses its memory.
        assert_eq!(p.offsets[1], p.offsets[3]);
    }

    #[test]
    fn all_overlapping_is_naive() {
        let buffers = [buf(0, 5, 64), buf(1, 4, 128), buf(2, 3, 192)];
        let p = planned(&buffers, 64);
        assert_eq!(p.arena_bytes, p.naive_bytes);
        assert_eq!(p.arena_bytes, 384);
        assert_eq!(lower_bound(&buffers), 384);
    }

    #[test]
    fn disjoint_lifetimes_share_everything() {
        let buffers = [buf(0, 0, 10), buf(1, 1, 30), buf(2, 2, 20)];
        let p = planned(&buffers, 64);
        assert_eq!(p.offsets, vec![0, 0, 0]);
        assert_eq!(p.arena_bytes, 30);
    }

    #[test]
    fn zero_byte_buffers_get_offset_zero() {
        let buffers = [buf(0, 3, 100), buf(1, 2, 0), buf(2, 2, 50)];
        let p = planned(&buffers, 64);
        assert_eq!(p.offsets[1], 0);
        assert_eq!(p.arena_bytes, 128 + 50);
        let p = planned(&[buf(0, 0, 0)], 16);
        assert_eq!((p.offsets.as_slice(), p.arena_bytes), (&[0][..], 0));
        let p = planned(&[], 64);
        assert_eq!((p.arena_bytes, p.naive_bytes), (0, 0));
    }

    #[test]
    fn fills_gaps_left_by_dead_buffers() {
        // Big buffers at 0 and after it; a small one reuses the gap the dead one left.
        let buffers = [
            buf(0, 1, 256), // a
            buf(0, 4, 256), // b, alive throughout
            buf(3, 4, 128), // c: a is dead, c fits in a's bytes
        ];
        let p = planned(&buffers, 64);
        assert_eq!(p.offsets[2], p.offsets[0]);
        assert_eq!(p.arena_bytes, 512);
    }

    #[test]
    fn same_step_boundary_is_a_conflict() {
        // Last read and first written at the same step: an op reads its input while writing.
        let buffers = [buf(0, 2, 64), buf(2, 3, 64)];
        let p = planned(&buffers, 64);
        assert_ne!(p.offsets[0], p.offsets[1]);
    }

    #[test]
    fn verify_rejects_bad_plans() {
        let buffers = [buf(0, 2, 64), buf(1, 3, 64)];
        let good = plan(&buffers, 64);
        let overlapping = MemoryPlan {
            offsets: vec![0, 0],
            arena_bytes: 64,
            ..good.clone()
        };
        assert!(
            verify(&buffers, &overlapping)
                .unwrap_err()
                .contains("share")
        );
        let misaligned = MemoryPlan {
            offsets: vec![0, 65],
            arena_bytes: 129,
            ..good.clone()
        };
        assert!(
            verify(&buffers, &misaligned)
                .unwrap_err()
                .contains("multiple")
        );
        let too_small = MemoryPlan {
            arena_bytes: 100,
            ..good.clone()
        };
        assert!(
            verify(&buffers, &too_small)
                .unwrap_err()
                .contains("exceeds")
        );
        let short = MemoryPlan {
            offsets: vec![0],
            ..good
        };
        assert!(verify(&buffers, &short).is_err());
    }

    #[test]
    fn lower_bound_handles_the_last_step() {
        let buffers = [buf(usize::MAX, usize::MAX, 8), buf(0, usize::MAX, 8)];
        assert_eq!(lower_bound(&buffers), 16);
        planned(&buffers, 8);
    }

    fn arb_buffers() -> impl Strategy<Value = Vec<Buffer>> {
        prop::collection::vec(
            (
                0usize..40,
                0usize..15,
                prop_oneof![Just(0usize), 1usize..5000],
            ),
            0..60,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(first, len, bytes)| buf(first, first + len, bytes))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(scc_testkit::config(256))]

        /// The overlap index finds exactly the pairs alive together (against all pairs).
        #[test]
        fn overlaps_are_exactly_the_buffers_alive_together(buffers in arb_buffers()) {
            let overlaps = Overlaps::new(&buffers);
            for (i, b) in buffers.iter().enumerate() {
                if b.bytes == 0 {
                    continue;
                }
                let mut found = Vec::new();
                overlaps.each(&buffers, i, |j| found.push(j));
                found.sort_unstable();
                let want: Vec<usize> = (0..buffers.len())
                    .filter(|&j| j != i && buffers[j].bytes > 0 && buffers[j].overlaps_in_time(b))
                    .collect();
                prop_assert_eq!(found, want);
            }
        }

        #[test]
        fn plans_are_valid_and_bounded(
            buffers in arb_buffers(),
            align_log in 0u32..8,
        ) {
            let alignment = 1usize << align_log;
            let p = plan(&buffers, alignment);
            prop_assert_eq!(verify(&buffers, &p), Ok(()));
            prop_assert!(p.arena_bytes >= lower_bound(&buffers));
            // Never worse than one aligned slot per buffer (= naive when alignment is 1).
            let padded: usize = buffers.iter().map(|b| round_up(b.bytes, alignment)).sum();
            prop_assert!(p.arena_bytes <= padded, "arena {} > padded naive {}", p.arena_bytes, padded);
            prop_assert_eq!(p.naive_bytes, buffers.iter().map(|b| b.bytes).sum::<usize>());
            if alignment == 1 {
                prop_assert!(p.arena_bytes <= p.naive_bytes);
            }
            for (b, &o) in buffers.iter().zip(&p.offsets) {
                if b.bytes == 0 {
                    prop_assert_eq!(o, 0);
                }
            }
            // Deterministic.
            prop_assert_eq!(plan(&buffers, alignment), p);
        }
    }
}

/// The memory plan of a graph: every intermediate tensor (every node but the inputs,
/// outputs included) placed in one arena, in the topological schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphMemoryPlan {
    /// The execution order the liveness was computed for.
    pub schedule: Vec<crate::ir::NodeId>,
    /// `(node, offset, bytes)` for every planned tensor, in schedule order.
    pub placements: Vec<(crate::ir::NodeId, usize, usize)>,
    pub arena_bytes: usize,
    /// The sum of all intermediate tensors' sizes (no reuse).
    pub naive_bytes: usize,
}

/// Arena offsets are aligned to this many bytes (a cache line; enough for any vector load).
pub const ARENA_ALIGNMENT: usize = 64;

/// Plans the intermediates of `graph` (f32 tensors): a tensor lives from the step that
/// writes it to the last step that reads it; outputs live to the end.
pub fn plan_graph(graph: &crate::ir::Graph) -> GraphMemoryPlan {
    use crate::ir::Op;
    let schedule = graph.topological_order();
    let step: std::collections::HashMap<_, _> = schedule
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    let end = schedule.len();
    let mut planned = Vec::new();
    let mut buffers = Vec::new();
    for (i, &id) in schedule.iter().enumerate() {
        if let Op::Input { .. } = graph.node(id).op {
            continue;
        }
        // A fused value is computed inside its users' kernels from its operands: reading it
        // reads them, so they live until its users' last step.
        let mut last_use = i;
        let mut pending = graph.users(id);
        while let Some(user) = pending.pop() {
            if graph.layout(user) == crate::ir::Layout::Fused {
                pending.extend(graph.users(user));
            } else {
                last_use = last_use.max(step[&user]);
            }
        }
        let last = if graph.is_output(id) { end } else { last_use };
        // In its physical layout: a channel-blocked value pads its channels to whole blocks.
        let bytes = graph.layout(id).elements(&graph.node(id).shape) * std::mem::size_of::<f32>();
        planned.push(id);
        buffers.push(Buffer {
            first: i,
            last,
            bytes,
        });
    }
    let memory = plan(&buffers, ARENA_ALIGNMENT);
    GraphMemoryPlan {
        schedule,
        placements: planned
            .into_iter()
            .zip(buffers.iter().zip(&memory.offsets))
            .map(|(id, (buffer, offset))| (id, *offset, buffer.bytes))
            .collect(),
        arena_bytes: memory.arena_bytes,
        naive_bytes: memory.naive_bytes,
    }
}
