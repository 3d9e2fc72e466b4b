//! The sliding-window algorithm for the sum-pooling of structured convolutions, with exact
//! counts of the additions it performs.
//!
//! A structured convolution runs as a 3-D sum-pool — a box window over `wc` channels (within
//! each group) × `wh` rows × `ww` columns, zero padding of height and width — followed by a
//! small convolution. [`kernels::sumpool3d`](crate::kernels::sumpool3d) is the direct oracle
//! (f64 accumulation); this module is the algorithm scc's optimised graph uses, written as plain
//! reference code in **f32 arithmetic** (unlike the f64-accumulating kernels of
//! [`kernels`](crate::kernels)), operation for operation as a compiled kernel performs it, so
//! that compiled kernels can mirror it and their cost is predicted exactly by
//! [`sumpool_running_adds`].
//!
//! # Algorithm
//!
//! The box sum is separable, so it is computed as three 1-D sliding-window passes, in the order
//! [`Axis::PASS_ORDER`]: **width, then height, then channels**:
//!
//! 1. zero-pad the input `[N, C, H, W]` to `[N, C, Hp, Wp]` (`Hp = H + 2·ph`, `Wp = W + 2·pw`);
//!    the padding is materialised, so every pass below also adds the padding zeros
//!    ("pad, then sum");
//! 2. **width**: every one of the `N·C·Hp` rows (padding rows included) → `[N, C, Hp, Wo]`;
//! 3. **height**: every one of the `N·C·Wo` columns → `[N, C, Ho, Wo]`;
//! 4. **channels**: for each batch item, group `g` and position, the line of the group's `Cg`
//!    channels → `[N, groups·Ca, Ho, Wo]` with `Ca = Cg − wc + 1`.
//!
//! Along a line `x[0..L]` with window `w` and stride `s` a pass computes the window sums
//! `out[i] = x[i] + x[i+1] + … + x[i+w−1]` for the kept `i = 0, s, 2s, …` —
//! `k = ⌊(L − w)/s⌋ + 1` of them — by one of two schemes ([`line_scheme`]):
//!
//! * **direct** ([`LineScheme::Direct`]): every kept output summed from scratch, left to
//!   right — `w − 1` additions per output, and only the `k` kept outputs are computed (so a
//!   pass with `w = 1` performs no additions at all: it only subsamples);
//! * **blocks** ([`LineScheme::Blocks`], van Herk / Gil–Werman): the line is cut into blocks
//!   `[b, b + w)` of the window's length, `b = 0, w, 2w, …`. A window starting at a block
//!   start is that whole block; any other window `[i, i + w)` ends in the next block, so it is
//!   the **suffix** of its own block plus a **prefix** of the next:
//!
//!   ```text
//!   S[i] = x[i] + S[i+1]   (S[b+w−1] = x[b+w−1]),   suffix sums of block [b, b+w), right to left
//!   P[j] = P[j−1] + x[j]   (P[b+w] = x[b+w]),       prefix sums of block [b+w, b+2w), left to right
//!   out[i] = S[i] + P[i+w−1]   for b < i < b + w,    out[b+w] = P[b+2w−1]
//!   ```
//!
//!   All `m = L − w + 1` stride-1 outputs are computed (a prefix or suffix serves several
//!   outputs, so a stride saves none of them) and every `s`-th is kept. There is no
//!   subtraction anywhere: unlike a running sum `out[i] = out[i−1] + x[i+w−1] − x[i−1]`, whose
//!   error grows along the line and is set by the *largest* value the line has seen (one huge
//!   channel ruins every later output of the line), each output here is a sum of exactly its
//!   own `w` terms.
//!
//! [`line_scheme`] takes direct sums for windows up to [`MAX_DIRECT_WINDOW`] `= 3` (they are the
//! ones compiled kernels vectorise along a row, and cost at most 2 additions per output) and
//! for lines where they are not dearer than blocks (large strides); blocks otherwise.
//!
//! **Stride** (height and width only; the channel axis always has stride 1): subsampling
//! happens within (direct) or right after (blocks) each pass, so the width pass with stride
//! `sw` hands `Wo` columns (not `Wp − ww + 1`) to the height pass, and the channel pass only
//! sees the `Ho·Wo` kept positions.
//!
//! **Channel sharing.** Each input channel's spatial sums (steps 2–3) are computed once and
//! reused by all the (up to `wc`) output channels whose window contains it; the channel pass
//! then works on the line of the group's `Cg` spatially summed channels like any other pass —
//! never a `wc·wh·ww`-term sum per output element. Output channel `g·Ca + a` equals
//! `Σ_{j<wc} input channel g·Cg + a + j`, exactly as in `sumpool3d`.
//!
//! # Accuracy
//!
//! Let `u = 2⁻²⁴` (f32 unit roundoff). A direct sum of `w` terms is `w − 1` roundings. So is
//! every blocks output: `S[i]` is `b + w − 1 − i` roundings, `P[i+w−1]` is `i − b − 1`, and
//! their sum one more — `w − 1` in all, over exactly the window's terms. Both schemes therefore
//! meet the classical bound of recursive summation,
//!
//! ```text
//! |computed − exact| ≤ (w − 1)·u·Σ|terms| + O(u²)       per output, for any line length,
//! ```
//!
//! and a 3-D pool, three passes of it, is within `(wc + wh + ww − 3)·u·Σ|all its terms|`. The
//! error of an output depends only on its own terms, never on values elsewhere on the line
//! (tested on adversarial data — one huge channel, values over many orders of magnitude —
//! against a float64 reference in `tests/sumpool.rs`).
//!
//! # Addition count
//!
//! For one line of length `L`, window `w` and stride `s` (`1 ≤ w ≤ L`, `s ≥ 1`), with
//! `k = ⌊(L − w)/s⌋ + 1` kept outputs, `m = L − w + 1` stride-1 outputs,
//! `F = ⌊(m − 1)/w⌋` whole blocks after the first and `t = m − 1 − F·w` outputs in the last,
//! partial one:
//!
//! ```text
//! direct:  D(L, w, s) = k·(w − 1)
//! blocks:  B(L, w)    = (w − 1) + F·(3w − 4) + (t > 0 ? w − 3 + 2t : 0)     (independent of s)
//! ```
//!
//! (the first output is one direct sum, `w − 1`; each further block of `w` outputs costs a
//! suffix chain `w − 2`, a prefix chain `w − 1` and `w − 1` combining additions — `3 − 4/w`
//! per output, 2 for `w = 4`, under 3 for any window). [`line_sum_adds`] is the count of the
//! chosen scheme, and for an input `[N, C, H, W]` ([`sumpool_running_adds`]), with
//! `Hp = H + 2·ph`, `Wp = W + 2·pw`, `Ho = (Hp − wh)/sh + 1`, `Wo = (Wp − ww)/sw + 1`,
//! `Cg = C / groups`:
//!
//! ```text
//! adds = N·C·Hp·A(Wp, ww, sw)           width pass
//!      + N·C·Wo·A(Hp, wh, sh)           height pass
//!      + N·groups·Ho·Wo·A(Cg, wc, 1)    channel pass
//! ```
//!
//! Padding zeros are counted as operands like any other value. The kernel routes every f32
//! addition through one counting helper, and the tests check that its tally equals this
//! formula. The naive count ([`sumpool_direct_adds`]) is `output elements × (wc·wh·ww − 1)`.
//!
//! # Preconditions
//! As in [`kernels`](crate::kernels): shapes and parameters that the compiler's checks rule out
//! (see [`SumPoolSpec::output_shape`]) are caught by `assert!`s naming the function and the
//! offending values.

use crate::tensor::Tensor;

/// Largest window a pass always sums directly (`w − 1` additions per kept output); larger
/// windows use blocks of prefix and suffix sums unless direct sums are cheaper (see
/// [`line_scheme`]).
pub const MAX_DIRECT_WINDOW: usize = 3;

/// How one pass computes the window sums of a line (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineScheme {
    /// Every kept output summed from scratch, left to right.
    Direct,
    /// Van Herk / Gil–Werman: block suffix sums plus next-block prefix sums, all stride-1
    /// outputs, every `stride`-th kept.
    Blocks,
}

/// The scheme of a pass over a line of length `len` with `window` and `stride`: direct sums
/// for `window <= MAX_DIRECT_WINDOW` or when they cost no more additions than blocks,
/// blocks otherwise.
///
/// Panics unless `1 <= window <= len` and `stride >= 1`.
#[track_caller]
pub fn line_scheme(len: usize, window: usize, stride: usize) -> LineScheme {
    check_line(len, window, stride, "line_scheme");
    if window <= MAX_DIRECT_WINDOW
        || direct_line_adds(len, window, stride) <= block_line_adds(len, window)
    {
        LineScheme::Direct
    } else {
        LineScheme::Blocks
    }
}

#[track_caller]
fn check_line(len: usize, window: usize, stride: usize, what: &str) {
    assert!(
        (1..=len).contains(&window),
        "{what}: window {window} does not fit a line of length {len}"
    );
    assert!(stride >= 1, "{what}: stride {stride} must be at least 1");
}

/// Additions of direct sums over a line: `k·(window − 1)` for the `k` kept outputs.
fn direct_line_adds(len: usize, window: usize, stride: usize) -> u64 {
    ((len - window) / stride + 1) as u64 * (window as u64 - 1)
}

/// Additions of the blocks scheme over a line (all stride-1 outputs; see the module docs).
fn block_line_adds(len: usize, window: usize) -> u64 {
    let (m, w) = ((len - window + 1) as u64, window as u64);
    if w == 1 {
        return 0;
    }
    let whole = (m - 1) / w;
    let last = m - 1 - whole * w;
    let partial = if last > 0 { w + 2 * last - 3 } else { 0 };
    (w - 1) + whole * (3 * w - 4) + partial
}

/// An axis of the 3-D sum-pool window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// The last axis (columns, `W`).
    Width,
    /// The third axis (rows, `H`).
    Height,
    /// The channel axis (`C`), pooled within each group.
    Channel,
}

impl Axis {
    /// The order in which [`sumpool_running`] runs its passes: width, then height, then channels.
    pub const PASS_ORDER: [Axis; 3] = [Axis::Width, Axis::Height, Axis::Channel];
}

/// A 3-D sum-pool: `groups` channel groups, a `window` of `(channels, height, width)`, zero
/// padding `pad = (ph, pw)` of height and width, and a `stride = (sh, sw)` on height and width
/// (the channel axis always has stride 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SumPoolSpec {
    /// Number of channel groups, at least 1 and dividing the input's channels.
    pub groups: usize,
    /// Window `(wc, wh, ww)`: channels (within a group) × rows × columns, each at least 1.
    pub window: (usize, usize, usize),
    /// Zero padding `(ph, pw)` added on both sides of the height and width axes.
    pub pad: (usize, usize),
    /// Step `(sh, sw)` between output rows and columns, each at least 1.
    pub stride: (usize, usize),
}

/// The sizes [`sumpool_running`] works with, derived and checked once.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    /// Channels per group.
    cg: usize,
    /// Output channels per group, `cg - wc + 1`.
    ca: usize,
    /// Padded height and width.
    hp: usize,
    wp: usize,
    /// Output height and width (after striding).
    ho: usize,
    wo: usize,
}

impl SumPoolSpec {
    /// Checks the spec against an input shape and derives every size, or panics naming `what`.
    #[track_caller]
    fn geometry(&self, input: &[usize], what: &str) -> Geometry {
        let [n, c, h, w] = *input else {
            panic!("{what}: expected a rank-4 [N, C, H, W] input, got shape {input:?}");
        };
        let groups = self.groups;
        assert!(
            groups >= 1 && c % groups == 0,
            "{what}: groups={groups} does not divide the {c} channels of {input:?}"
        );
        let cg = c / groups;
        let (wc, wh, ww) = self.window;
        let (ph, pw) = self.pad;
        let (sh, sw) = self.stride;
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        assert!(
            (1..=cg).contains(&wc) && (1..=hp).contains(&wh) && (1..=wp).contains(&ww),
            "{what}: window {:?} does not fit {cg} channels per group and padded size {hp}x{wp} \
             (input {input:?}, pad {:?})",
            self.window,
            self.pad
        );
        assert!(
            sh >= 1 && sw >= 1,
            "{what}: stride {:?} must be at least 1 on both axes",
            self.stride
        );
        Geometry {
            n,
            c,
            h,
            w,
            cg,
            ca: cg - wc + 1,
            hp,
            wp,
            ho: (hp - wh) / sh + 1,
            wo: (wp - ww) / sw + 1,
        }
    }

    /// The output shape for an input `[N, C, H, W]`:
    /// `[N, groups·(Cg − wc + 1), (H + 2·ph − wh)/sh + 1, (W + 2·pw − ww)/sw + 1]` with
    /// `Cg = C / groups` (integer division rounding down, as in PyTorch).
    ///
    /// Panics unless `input` has rank 4, `groups >= 1` divides `C`, `1 <= wc <= Cg`,
    /// `1 <= wh <= H + 2·ph`, `1 <= ww <= W + 2·pw` and both strides are at least 1. These are
    /// the preconditions of every function of this module taking a spec.
    #[track_caller]
    pub fn output_shape(&self, input: &[usize]) -> Vec<usize> {
        let g = self.geometry(input, "SumPoolSpec::output_shape");
        vec![g.n, self.groups * g.ca, g.ho, g.wo]
    }
}

/// Tally of the f32 additions performed. Every f32 `+` of this module's kernels goes through
/// it, so its count is the kernels' actual work.
#[derive(Debug, Default)]
struct AddCounter(u64);

impl AddCounter {
    /// `a + b`, counted.
    fn add(&mut self, a: f32, b: f32) -> f32 {
        self.0 += 1;
        a + b
    }
}

/// The window sums of `line` (window `window`) at `0, stride, 2·stride, …`, each summed from
/// scratch, left to right, into `out`, which has length `(line.len() - window) / stride + 1`.
fn direct_sums(line: &[f32], window: usize, stride: usize, out: &mut [f32], adds: &mut AddCounter) {
    debug_assert!((1..=line.len()).contains(&window) && stride >= 1);
    debug_assert_eq!(out.len(), (line.len() - window) / stride + 1);
    for (q, o) in out.iter_mut().enumerate() {
        let i = q * stride;
        *o = line[i + 1..i + window]
            .iter()
            .fold(line[i], |s, &v| adds.add(s, v));
    }
}

/// All stride-1 window sums of `line` (window `window >= 2`) by blocks of prefix and suffix
/// sums (van Herk / Gil–Werman; see the [module documentation](self#algorithm)) into `out`,
/// which has length `line.len() - window + 1`. Performs exactly [`block_line_adds`] additions.
fn block_sums(line: &[f32], window: usize, out: &mut [f32], adds: &mut AddCounter) {
    let w = window;
    let m = out.len();
    debug_assert!(w >= 2 && m + w == line.len() + 1);
    // The first output: block [0, w) summed left to right.
    out[0] = line[1..w].iter().fold(line[0], |s, &v| adds.add(s, v));
    let mut b = 0;
    while b + 1 < m {
        // Outputs b+1 ..= b+t start inside block [b, b+w) and end in the next block.
        let t = (w - 1).min(m - 1 - b);
        // Suffix sums of the block, right to left: S[i] = x[i] + … + x[b+w−1].
        let mut suffix = line[b + w - 1];
        for i in (b + 1..b + w).rev() {
            if i < b + w - 1 {
                suffix = adds.add(line[i], suffix);
            }
            if i <= b + t {
                out[i] = suffix;
            }
        }
        // Prefix sums of the next block, left to right: P[j] = x[b+w] + … + x[j], joined with
        // the suffix of output i = j − w + 1.
        let mut prefix = line[b + w];
        for (i, &x) in (b + 1..).zip(&line[b + w..b + w + t]) {
            if i > b + 1 {
                prefix = adds.add(prefix, x);
            }
            // Output i ends at j = i + w − 1.
            out[i] = adds.add(out[i], prefix);
        }
        if b + w < m {
            // The next block's own output: the whole block (here t = w − 1).
            out[b + w] = adds.add(prefix, line[b + 2 * w - 1]);
        }
        b += w;
    }
}

/// The window sums of one line with `window`, keeping every `stride`-th, into `out` (length
/// `(line.len() - window) / stride + 1`), by the scheme [`line_scheme`] chooses: direct sums
/// of the kept outputs, or all stride-1 [`block_sums`] (into the scratch buffer `full`, of
/// length `line.len() - window + 1`) subsampled. Performs exactly
/// [`line_sum_adds`]`(line.len(), window, stride)` additions.
fn line_sums(
    line: &[f32],
    window: usize,
    stride: usize,
    full: &mut [f32],
    out: &mut [f32],
    adds: &mut AddCounter,
) {
    match line_scheme(line.len(), window, stride) {
        LineScheme::Direct => direct_sums(line, window, stride, out, adds),
        LineScheme::Blocks => {
            block_sums(line, window, full, adds);
            for (o, &v) in out.iter_mut().zip(full.iter().step_by(stride)) {
                *o = v;
            }
        }
    }
}

/// One pass along the middle axis of `data`, viewed as `[outer, len, inner]` (row-major): the
/// sliding-window sums of every line `data[o, .., j]` with `window`, keeping every `stride`-th
/// ([`line_sums`]), giving `[outer, (len - window)/stride + 1, inner]`. A window of 1 only
/// subsamples (no additions).
fn slide_axis(
    data: &[f32],
    (outer, len, inner): (usize, usize, usize),
    window: usize,
    stride: usize,
    adds: &mut AddCounter,
) -> Vec<f32> {
    debug_assert_eq!(data.len(), outer * len * inner);
    debug_assert!((1..=len).contains(&window) && stride >= 1);
    let kept = (len - window) / stride + 1;
    let mut out = vec![0.0f32; outer * kept * inner];
    let mut line = vec![0.0f32; len];
    let mut full = vec![
        0.0f32;
        match line_scheme(len, window, stride) {
            LineScheme::Direct => 0,
            LineScheme::Blocks => len - window + 1,
        }
    ];
    let mut sums = vec![0.0f32; kept];
    for o in 0..outer {
        for j in 0..inner {
            for (k, v) in line.iter_mut().enumerate() {
                *v = data[(o * len + k) * inner + j];
            }
            line_sums(&line, window, stride, &mut full, &mut sums, adds);
            for (q, &v) in sums.iter().enumerate() {
                out[(o * kept + q) * inner + j] = v;
            }
        }
    }
    out
}

/// [`sumpool_running`], also returning the number of f32 additions performed.
pub(crate) fn sumpool_running_counted(x: &Tensor, spec: &SumPoolSpec) -> (Tensor, u64) {
    let g = spec.geometry(x.shape(), "sumpool_running");
    let (wc, wh, ww) = spec.window;
    let (ph, pw) = spec.pad;
    let (sh, sw) = spec.stride;
    let mut adds = AddCounter::default();

    // Zero padding: [N*C, H, W] -> [N*C, Hp, Wp].
    let mut padded = vec![0.0f32; g.n * g.c * g.hp * g.wp];
    if g.h * g.w > 0 {
        for (dst, src) in padded
            .chunks_exact_mut(g.hp * g.wp)
            .zip(x.data().chunks_exact(g.h * g.w))
        {
            for (y, row) in src.chunks_exact(g.w).enumerate() {
                dst[(y + ph) * g.wp + pw..][..g.w].copy_from_slice(row);
            }
        }
    }
    // Width: [N*C*Hp, Wp] -> [N*C*Hp, Wo].
    let rows = slide_axis(&padded, (g.n * g.c * g.hp, g.wp, 1), ww, sw, &mut adds);
    // Height: [N*C, Hp, Wo] -> [N*C, Ho, Wo].
    let cols = slide_axis(&rows, (g.n * g.c, g.hp, g.wo), wh, sh, &mut adds);
    // Channels, within each group: [N*groups, Cg, Ho*Wo] -> [N*groups, Ca, Ho*Wo].
    let out = slide_axis(
        &cols,
        (g.n * spec.groups, g.cg, g.ho * g.wo),
        wc,
        1,
        &mut adds,
    );
    let shape = [g.n, spec.groups * g.ca, g.ho, g.wo];
    (Tensor::from_vec(shape, out), adds.0)
}

/// The 3-D sum-pool of `x` (`[N, C, H, W]`) by the sliding-window algorithm of the
/// [module documentation](self): zero-pad, then separable sliding-window sums along width,
/// height and channels (within each group), all in f32 — each line by direct sums of its kept
/// outputs or by blocks of prefix and suffix sums subsampled by the stride ([`line_scheme`]).
///
/// Returns `[N, groups·Ca, Ho, Wo]` ([`SumPoolSpec::output_shape`]); output channel `g·Ca + a`
/// at `(y, x)` is `Σ input[g·Cg + a + j, y·sh + dy − ph, x·sw + dx − pw]` over `j < wc`,
/// `dy < wh`, `dx < ww` (zero outside the input). For stride `(1, 1)` this equals
/// [`kernels::sumpool3d`](crate::kernels::sumpool3d)`(x, groups, window, pad)` up to f32
/// rounding (bounded in the module documentation); for larger strides it equals that result
/// with every `sh`-th row and `sw`-th column kept. It performs exactly
/// [`sumpool_running_adds`]`(x.shape(), spec)` f32 additions (and no subtraction).
///
/// Panics under the conditions listed in [`SumPoolSpec::output_shape`].
pub fn sumpool_running(x: &Tensor, spec: &SumPoolSpec) -> Tensor {
    sumpool_running_counted(x, spec).0
}

/// The number of f32 additions one pass of [`sumpool_running`] performs on a line of length
/// `len` with window `window` and stride `stride`: that of the scheme [`line_scheme`] chooses,
/// with `k = (len − window)/stride + 1` kept outputs, `m = len − window + 1` stride-1 outputs,
/// `F = ⌊(m − 1)/window⌋` and `t = m − 1 − F·window`:
///
/// ```text
/// k·(window − 1)                                              direct sums
/// (window − 1) + F·(3·window − 4) + (t > 0 ? window − 3 + 2t : 0)   blocks (all m outputs)
/// ```
///
/// (0 for `window == 1`).
///
/// Panics unless `1 <= window <= len` and `stride >= 1`.
#[track_caller]
pub fn line_sum_adds(len: usize, window: usize, stride: usize) -> u64 {
    match line_scheme(len, window, stride) {
        LineScheme::Direct => direct_line_adds(len, window, stride),
        LineScheme::Blocks => block_line_adds(len, window),
    }
}

/// The number of f32 additions the pass of [`sumpool_running`] along `axis`
/// performs for an input of shape `input` ([`SumPoolSpec::output_shape`] for the notation):
/// `N·C·Hp·A(Wp, ww, sw)` for [`Axis::Width`], `N·C·Wo·A(Hp, wh, sh)` for [`Axis::Height`] and
/// `N·groups·Ho·Wo·A(Cg, wc, 1)` for [`Axis::Channel`], where `A` is [`line_sum_adds`].
///
/// Panics under the conditions listed in [`SumPoolSpec::output_shape`].
#[track_caller]
pub fn sumpool_running_adds_along(input: &[usize], spec: &SumPoolSpec, axis: Axis) -> u64 {
    let g = spec.geometry(input, "sumpool_running_adds_along");
    let (wc, wh, ww) = spec.window;
    let (sh, sw) = spec.stride;
    let (lines, line_adds) = match axis {
        Axis::Width => (g.n * g.c * g.hp, line_sum_adds(g.wp, ww, sw)),
        Axis::Height => (g.n * g.c * g.wo, line_sum_adds(g.hp, wh, sh)),
        Axis::Channel => (g.n * spec.groups * g.ho * g.wo, line_sum_adds(g.cg, wc, 1)),
    };
    lines as u64 * line_adds
}

/// The exact number of f32 additions [`sumpool_running`] performs for an input
/// of shape `input`: the sum over the three axes of [`sumpool_running_adds_along`], i.e.
///
/// ```text
/// N·C·Hp·A(Wp, ww, sw) + N·C·Wo·A(Hp, wh, sh) + N·groups·Ho·Wo·A(Cg, wc, 1)
/// ```
///
/// with `A` = [`line_sum_adds`]. Additions of padding zeros are included.
///
/// Panics under the conditions listed in [`SumPoolSpec::output_shape`].
#[track_caller]
pub fn sumpool_running_adds(input: &[usize], spec: &SumPoolSpec) -> u64 {
    Axis::PASS_ORDER
        .iter()
        .map(|&axis| sumpool_running_adds_along(input, spec, axis))
        .sum()
}

/// The number of additions of the naive sum-pool, for comparison with [`sumpool_running_adds`]:
/// every output element summed directly from its `wc·wh·ww` inputs (padding zeros included),
/// `output elements × (wc·wh·ww − 1)`.
///
/// Panics under the conditions listed in [`SumPoolSpec::output_shape`].
#[track_caller]
pub fn sumpool_direct_adds(input: &[usize], spec: &SumPoolSpec) -> u64 {
    let g = spec.geometry(input, "sumpool_direct_adds");
    let (wc, wh, ww) = spec.window;
    let outputs = (g.n * spec.groups * g.ca * g.ho * g.wo) as u64;
    outputs * (wc * wh * ww - 1) as u64
}

/// [`sumpool_features_running`], also returning the number of f32 additions performed.
pub(crate) fn sumpool_features_running_counted(x: &Tensor, window: usize) -> (Tensor, u64) {
    let [n, f] = *x.shape() else {
        panic!(
            "sumpool_features_running: expected a rank-2 [N, F] tensor, got shape {:?}",
            x.shape()
        );
    };
    assert!(
        (1..=f).contains(&window),
        "sumpool_features_running: window {window} does not fit {f} features"
    );
    let mut adds = AddCounter::default();
    let out = slide_axis(x.data(), (n, f, 1), window, 1, &mut adds);
    (Tensor::from_vec([n, f - window + 1], out), adds.0)
}

/// The 1-D sum-pool of structured linear layers by the line schemes of [`sumpool_running`]
/// (f32; [`line_scheme`]): `x` is `[N, F]` and
/// `out[n, a] = Σ_{j<window} x[n, a + j]`, giving `[N, F − window + 1]`.
///
/// Equals [`kernels::sumpool_features`](crate::kernels::sumpool_features) up to f32 rounding
/// and performs exactly [`sumpool_features_adds`]`(N, F, window)` additions.
///
/// Panics unless `x` has rank 2 and `1 <= window <= F`.
pub fn sumpool_features_running(x: &Tensor, window: usize) -> Tensor {
    sumpool_features_running_counted(x, window).0
}

/// The exact number of f32 additions [`sumpool_features_running`] performs on
/// a `[batch, features]` input: `batch · A(features, window, 1)` with `A` = [`line_sum_adds`].
///
/// Panics unless `1 <= window <= features`.
#[track_caller]
pub fn sumpool_features_adds(batch: usize, features: usize, window: usize) -> u64 {
    assert!(
        (1..=features).contains(&window),
        "sumpool_features_adds: window {window} does not fit {features} features"
    );
    batch as u64 * line_sum_adds(features, window, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{sumpool_features, sumpool3d};
    use crate::random::WeightRng;
    use proptest::prelude::*;

    /// The exact window sums of `line`, in f64.
    fn exact_sums(line: &[f32], window: usize) -> Vec<f64> {
        line.windows(window)
            .map(|w| w.iter().map(|&v| f64::from(v)).sum())
            .collect()
    }

    #[test]
    fn block_sums_hand_computed() {
        // Window 4 over 8 values: blocks [0, 4) and [4, 8).
        let line = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let mut out = [0.0; 5];
        let mut adds = AddCounter::default();
        block_sums(&line, 4, &mut out, &mut adds);
        assert_eq!(out, [10.0, 14.0, 18.0, 22.0, 26.0]);
        // out[0]: 3; suffixes S[3], S[2], S[1]: 2; prefixes P[4..=6]: 2; joins: 3; out[4]: 1.
        assert_eq!(adds.0, 3 + 2 + 2 + 3 + 1);
        assert_eq!(adds.0, block_line_adds(8, 4));
        // A partial last block: window 4 over 6 values, outputs 0, 1, 2.
        let mut out = [0.0; 3];
        let mut adds = AddCounter::default();
        block_sums(&line[..6], 4, &mut out, &mut adds);
        assert_eq!(out, [10.0, 14.0, 18.0]);
        // out[0]: 3; suffix chain S[3] → S[1]: 2; prefixes P[4], P[5]: 1; joins: 2.
        assert_eq!(adds.0, 3 + 2 + 1 + 2);
        assert_eq!(adds.0, line_sum_adds(6, 4, 1));
    }

    #[test]
    fn direct_sums_hand_computed() {
        let line = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let direct = |window, stride| {
            let mut out = vec![0.0; (line.len() - window) / stride + 1];
            let mut adds = AddCounter::default();
            direct_sums(&line, window, stride, &mut out, &mut adds);
            assert_eq!(adds.0, line_sum_adds(line.len(), window, stride));
            (out, adds.0)
        };
        assert_eq!(direct(3, 1), (vec![6.0, 9.0, 12.0, 15.0, 18.0], 5 * 2));
        // Only the kept outputs are summed.
        assert_eq!(direct(3, 2), (vec![6.0, 12.0, 18.0], 3 * 2));
        assert_eq!(direct(2, 3), (vec![3.0, 9.0], 2));
        assert_eq!(direct(1, 2), (vec![1.0, 3.0, 5.0, 7.0], 0));
    }

    #[test]
    fn line_sum_adds_at_scheme_boundaries() {
        // w <= 3: k = (L - w)/s + 1 direct sums of (w - 1) adds.
        assert_eq!(line_sum_adds(7, 1, 1), 0);
        assert_eq!(line_sum_adds(3, 3, 1), 2); // one output
        assert_eq!(line_sum_adds(67, 2, 1), 66); // m = 66: one add each
        assert_eq!(line_sum_adds(67, 3, 1), 65 * 2);
        assert_eq!(line_sum_adds(10, 3, 2), 4 * 2); // kept outputs 0, 2, 4, 6
        assert_eq!(line_sum_adds(10, 2, 3), 3); // kept outputs 0, 3, 6
        // w >= 4: blocks, (w - 1) + F(3w - 4) + partial; strides change nothing.
        // (A single output, or two, costs the same either way: direct sums break the tie.)
        assert_eq!(line_scheme(4, 4, 1), LineScheme::Direct);
        assert_eq!(line_scheme(5, 4, 1), LineScheme::Direct);
        assert_eq!(line_scheme(6, 4, 1), LineScheme::Blocks);
        assert_eq!(line_sum_adds(4, 4, 1), 3); // one output
        assert_eq!(line_sum_adds(6, 4, 1), 3 + 5); // m = 3: F = 0, t = 2
        assert_eq!(line_sum_adds(67, 4, 1), 3 + 15 * 8 + 7); // m = 64: F = 15, t = 3
        assert_eq!(line_sum_adds(68, 4, 1), 3 + 16 * 8); // m = 65: F = 16, t = 0
        assert_eq!(line_sum_adds(133, 5, 1), 4 + 25 * 11 + 8); // m = 129: F = 25, t = 3
        assert_eq!(line_sum_adds(200, 9, 2), 8 + 21 * 23 + 10); // m = 192: F = 21, t = 2
        // Strided lines where direct sums are cheaper: w = 4, s = 2 on 10 values keeps 4.
        assert_eq!(line_scheme(10, 4, 2), LineScheme::Direct);
        assert_eq!(line_sum_adds(10, 4, 2), 4 * 3);
        assert_eq!(block_line_adds(10, 4), 3 + 8 + 5); // m = 7: F = 1, t = 2
    }

    /// Every line is computed by the scheme the count describes, performing exactly that many
    /// additions, and the chosen scheme is never dearer than the other.
    #[test]
    fn line_sums_count_and_scheme_choice() {
        let data = WeightRng::new(11).uniform([150], 1.0).into_data();
        for len in 1..=data.len() {
            let line = &data[..len];
            for window in 1..=len.min(9) {
                let exact = exact_sums(line, window);
                for stride in 1..=3 {
                    let kept = (len - window) / stride + 1;
                    let mut full = vec![0.0; len - window + 1];
                    let mut out = vec![0.0; kept];
                    let mut adds = AddCounter::default();
                    line_sums(line, window, stride, &mut full, &mut out, &mut adds);
                    assert_eq!(adds.0, line_sum_adds(len, window, stride), "{len} {window}");
                    for (q, &v) in out.iter().enumerate() {
                        let want = exact[q * stride];
                        assert!((f64::from(v) - want).abs() <= 1e-5 * window as f64);
                    }
                    if window >= 2 {
                        let mut blocks = AddCounter::default();
                        block_sums(line, window, &mut full, &mut blocks);
                        assert_eq!(blocks.0, block_line_adds(len, window), "{len} {window}");
                        let direct = direct_line_adds(len, window, stride);
                        if window > MAX_DIRECT_WINDOW {
                            let chosen = line_sum_adds(len, window, stride);
                            assert_eq!(chosen, blocks.0.min(direct), "{len} {window} {stride}");
                        }
                    }
                }
            }
        }
    }

    /// The error bound of the module documentation, `(w − 1)·u·Σ|terms|` per output, holds on
    /// lines built to break running sums: one huge value among small ones (a running sum
    /// carries its rounding to every later output), values over twelve orders of magnitude,
    /// and a large common offset.
    #[test]
    fn every_output_meets_the_recursive_summation_bound() {
        let u = f64::from(f32::EPSILON) / 2.0;
        let mut rng = WeightRng::new(5);
        let len = 4096;
        let mut huge = rng.uniform([len], 1.0).into_data();
        huge[17] = 3e4;
        let wide: Vec<f32> = rng
            .uniform([len], 1.0)
            .into_data()
            .iter()
            .zip(rng.uniform([len], 6.0).into_data())
            .map(|(&sign, exponent)| sign.signum() * 10f32.powf(exponent))
            .collect();
        let offset = rng.uniform_range([len], 99.0, 101.0).into_data();
        for (name, line) in [("huge", &huge), ("wide", &wide), ("offset", &offset)] {
            for window in [4, 5, 33, 257] {
                let m = len - window + 1;
                let mut out = vec![0.0; m];
                block_sums(line, window, &mut out, &mut AddCounter::default());
                for (i, &got) in out.iter().enumerate() {
                    let terms = &line[i..i + window];
                    let exact: f64 = terms.iter().map(|&v| f64::from(v)).sum();
                    let magnitude: f64 = terms.iter().map(|&v| f64::from(v).abs()).sum();
                    let bound = (window - 1) as f64 * u * magnitude * (1.0 + 1e-6);
                    let error = (f64::from(got) - exact).abs();
                    assert!(
                        error <= bound,
                        "{name}, window {window}, output {i}: error {error:e} > bound {bound:e}"
                    );
                }
            }
        }
    }

    #[test]
    fn hand_computed_small_case() {
        // [1, 2, 2, 3] in 1 group, window (2, 1, 2), no padding: adjacent channels × columns.
        #[rustfmt::skip]
        let x = Tensor::from_vec([1, 2, 2, 3], vec![
            1., 2., 3.,
            4., 5., 6.,
            10., 20., 30.,
            40., 50., 60.,
        ]);
        let spec = SumPoolSpec {
            groups: 1,
            window: (2, 1, 2),
            pad: (0, 0),
            stride: (1, 1),
        };
        let (y, adds) = sumpool_running_counted(&x, &spec);
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.data(), &[33., 55., 99., 121.]);
        // Width: 4 rows of length 3, window 2: two direct sums of 1 add. Height: window 1, no
        // adds. Channels: 4 lines of length 2, window 2: 1 add.
        assert_eq!(adds, 4 * 2 + 4);
        assert_eq!(adds, sumpool_running_adds(x.shape(), &spec));
        assert_eq!(sumpool_direct_adds(x.shape(), &spec), 4 * 3);
    }

    #[test]
    fn features_match_reference_and_count() {
        let x = WeightRng::new(3).uniform([3, 300], 1.0);
        for window in [1, 2, 5, 300] {
            let (y, adds) = sumpool_features_running_counted(&x, window);
            let want = sumpool_features(&x, window);
            assert!(y.max_abs_diff(&want) <= 1e-5 * window as f32);
            assert_eq!(adds, sumpool_features_adds(3, 300, window));
        }
    }

    fn spec_and_input() -> impl Strategy<Value = (Vec<usize>, SumPoolSpec, u64)> {
        (
            (1usize..=2, 1usize..=3, 1usize..=8),
            (
                1usize..=4,
                1usize..=4,
                0usize..=2,
                0usize..=2,
                1usize..=3,
                1usize..=3,
            ),
            (0usize..=80, 0usize..=20, any::<u64>()),
        )
            .prop_flat_map(
                |((n, groups, cg), (wh, ww, ph, pw, sh, sw), (w, h, seed))| {
                    (1..=cg).prop_map(move |wc| {
                        let h = h.max(wh.saturating_sub(2 * ph));
                        let w = w.max(ww.saturating_sub(2 * pw));
                        let spec = SumPoolSpec {
                            groups,
                            window: (wc, wh, ww),
                            pad: (ph, pw),
                            stride: (sh, sw),
                        };
                        (vec![n, groups * cg, h, w], spec, seed)
                    })
                },
            )
    }

    proptest! {
        #![proptest_config(scc_testkit::config(64))]

        /// The closed-form count equals the additions actually performed, including restarts
        /// (widths up to 80 cross the 64-output boundary).
        #[test]
        fn counter_matches_formula((shape, spec, seed) in spec_and_input()) {
            let x = WeightRng::new(seed).uniform(shape.as_slice(), 1.0);
            let (y, adds) = sumpool_running_counted(&x, &spec);
            prop_assert_eq!(adds, sumpool_running_adds(&shape, &spec));
            let out_shape = spec.output_shape(&shape);
            prop_assert_eq!(y.shape(), out_shape.as_slice());
            if spec.stride == (1, 1) {
                let want = sumpool3d(&x, spec.groups, spec.window, spec.pad);
                let (wc, wh, ww) = spec.window;
                let tol = 1e-5 * want.max_abs().max(1.0) * (wc * wh * ww) as f32;
                prop_assert!(y.max_abs_diff(&want) <= tol);
            }
        }

        #[test]
        fn features_counter_matches_formula(n in 0usize..3, f in 1usize..200, w in 1usize..10) {
            let w = w.min(f);
            let x = WeightRng::new(f as u64).uniform([n, f], 1.0);
            let (_, adds) = sumpool_features_running_counted(&x, w);
            prop_assert_eq!(adds, sumpool_features_adds(n, f, w));
        }
    }
}
