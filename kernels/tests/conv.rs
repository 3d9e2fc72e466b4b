//! Conv and depthwise kernels of every tier against the reference convolution: odd shapes,
//! row tails, strides, groups, dilation, padding, plain and blocked inputs, epilogues.

mod common;

use common::{Conv, run_conv, run_depthwise, tiers};
use proptest::prelude::*;
use scc_kernels::abi;
use scc_runtime::Tensor;
use scc_runtime::kernels::{Activation, Conv2dParams, conv2d};
use scc_runtime::random::WeightRng;

fn reference(
    c: &Conv,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    residual: Option<&[f32]>,
    acts: &[Option<Activation>],
) -> Vec<f32> {
    let x = Tensor::new(vec![c.n, c.c, c.h, c.w], x.to_vec()).unwrap();
    let wt = Tensor::new(
        vec![c.out, c.c / c.groups, c.kernel.0, c.kernel.1],
        w.to_vec(),
    )
    .unwrap();
    let bt = Tensor::new(vec![c.out], b.to_vec()).unwrap();
    let p = Conv2dParams {
        stride: c.stride,
        pad: c.pad,
        dilation: c.dilation,
        groups: c.groups,
    };
    let mut y = conv2d(&x, &wt, Some(&bt), &p).unwrap().data().to_vec();
    for step in acts {
        match step {
            Some(a) => y.iter_mut().for_each(|v| *v = a.apply(*v)),
            None => y
                .iter_mut()
                .zip(residual.unwrap())
                .for_each(|(v, r)| *v += r),
        }
    }
    y
}

fn codes(acts: &[Option<Activation>]) -> Vec<i64> {
    acts.iter()
        .map(|a| match a {
            None => abi::EPI_RESIDUAL,
            Some(Activation::Relu) => abi::ACT_RELU,
            Some(Activation::Relu6) => abi::ACT_RELU6,
            Some(Activation::Sigmoid) => abi::ACT_SIGMOID,
            Some(Activation::Tanh) => abi::ACT_TANH,
            Some(Activation::Silu) => abi::ACT_SILU,
            Some(Activation::Hardswish) => abi::ACT_HARDSWISH,
            Some(Activation::Hardsigmoid) => abi::ACT_HARDSIGMOID,
        })
        .collect()
}

fn check(c: Conv, seed: u64, acts: &[Option<Activation>], depthwise: bool) {
    let (oh, ow) = c.out_hw();
    let mut rng = WeightRng::new(seed);
    let x = rng.uniform(vec![c.n, c.c, c.h, c.w], 1.0).data().to_vec();
    let w = rng
        .uniform(vec![c.out, c.c / c.groups, c.kernel.0, c.kernel.1], 0.5)
        .data()
        .to_vec();
    let b = rng.uniform(vec![c.out], 0.5).data().to_vec();
    let r = rng.uniform(vec![c.n, c.out, oh, ow], 1.0).data().to_vec();
    let residual = acts.contains(&None).then_some(r.as_slice());
    let expected = reference(&c, &x, &w, &b, residual, acts);
    let scale = expected.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (tier, lanes) in tiers() {
        let mut variants = vec![];
        if depthwise {
            variants.push((
                "depthwise",
                run_depthwise(tier, &c, &x, &w, &b, residual, &codes(acts)),
            ));
        } else {
            let cg = c.c / c.groups;
            let opg = c.out / c.groups;
            if c.groups == 1 || (cg.is_multiple_of(lanes) && opg.is_multiple_of(lanes)) {
                variants.push((
                    "blocked",
                    run_conv(tier, &c, &x, &w, &b, residual, &codes(acts), false),
                ));
            }
            if c.groups == 1 || opg.is_multiple_of(lanes) {
                variants.push((
                    "plain input",
                    run_conv(tier, &c, &x, &w, &b, residual, &codes(acts), true),
                ));
            }
        }
        for (what, got) in variants {
            let diff = got
                .iter()
                .zip(&expected)
                .map(|(g, e)| (g - e).abs())
                .fold(0f32, f32::max);
            assert!(
                diff <= 1e-5 * scale && got.iter().all(|v| v.is_finite()),
                "{tier} {what} {c:?} {acts:?}: max diff {diff} (scale {scale})"
            );
        }
    }
}

#[test]
fn resnet_and_mobilenet_shapes() {
    let conv = |c, out, hw, k, s, p, g| Conv {
        n: 1,
        c,
        h: hw,
        w: hw,
        out,
        kernel: (k, k),
        stride: (s, s),
        pad: (p, p),
        dilation: (1, 1),
        groups: g,
    };
    let relu = [Some(Activation::Relu)];
    check(conv(3, 64, 30, 7, 2, 3, 1), 1, &relu, false);
    check(
        conv(64, 64, 14, 3, 1, 1, 1),
        2,
        &[None, Some(Activation::Relu)],
        false,
    );
    check(conv(32, 64, 15, 2, 1, 0, 1), 3, &relu, false);
    check(conv(64, 128, 15, 2, 2, 0, 1), 4, &relu, false);
    check(
        conv(24, 144, 9, 1, 1, 0, 1),
        5,
        &[Some(Activation::Relu6)],
        false,
    );
    check(conv(96, 24, 7, 1, 1, 0, 1), 6, &[], false);
    check(
        conv(144, 144, 11, 3, 2, 1, 144),
        7,
        &[Some(Activation::Relu6)],
        true,
    );
    check(conv(40, 40, 9, 3, 1, 1, 40), 8, &[None], true);
}

#[test]
fn every_activation_in_the_epilogue() {
    for act in Activation::ALL {
        let c = Conv {
            n: 2,
            c: 20,
            h: 5,
            w: 9,
            out: 37,
            kernel: (3, 3),
            stride: (1, 1),
            pad: (1, 1),
            dilation: (1, 1),
            groups: 1,
        };
        check(c, 9, &[Some(act), None], false);
        let d = Conv {
            out: 20,
            groups: 20,
            ..c
        };
        check(d, 10, &[None, Some(act)], true);
    }
}

proptest! {
    #![proptest_config(scc_testkit::config(64))]

    #[test]
    fn random_convs(
        seed in any::<u64>(),
        n in 1usize..=2, cg in 1usize..=20, opg in 1usize..=40, groups_pick in 0usize..3,
        h in 1usize..=9, w in 1usize..=23, kh in 1usize..=4, kw in 1usize..=5,
        sh in 1usize..=3, sw in 1usize..=3, dh in 1usize..=2, dw in 1usize..=2,
        ph in 0usize..=2, pw in 0usize..=3, residual in any::<bool>(),
    ) {
        let groups = [1, 2, 3][groups_pick];
        let c = Conv { n, c: cg * groups, h, w, out: opg * groups, kernel: (kh, kw), stride: (sh, sw), pad: (ph, pw), dilation: (dh, dw), groups };
        prop_assume!(h + 2 * ph > dh * (kh - 1) && w + 2 * pw > dw * (kw - 1));
        let acts: Vec<Option<Activation>> = if residual { vec![None, Some(Activation::Relu)] } else { vec![Some(Activation::Relu6)] };
        check(c, seed, &acts, false);
        let d = Conv { c: cg * groups, out: cg * groups, groups: cg * groups, ..c };
        check(d, seed, &acts, true);
    }
}

/// Pool tiles of a fused structured 1×1 conv: the whole call when its pooled channels fit the
/// byte budget, else equal tiles within the budget (or at most the tier's smallest tile where
/// that alone exceeds it), each longer than half the smallest tile.
#[test]
fn pool_tiles_of_fused_convs() {
    use scc_kernels::conv::{POOL_TILE_BYTES, pool_tile, pool_tile_pixels};
    for lanes in [8, 16] {
        for pooled_blocks in [1, 2, 33, 65, 200, 512] {
            let pixel_bytes = pooled_blocks * lanes * 4;
            for pixels in [1, 7, 10, 12, 40, 48, 50, 120, 1000] {
                let tile = pool_tile_pixels(lanes, pooled_blocks, pixels);
                let tiles = pixels.div_ceil(tile);
                assert!(
                    (1..=pixels).contains(&tile),
                    "{lanes} {pooled_blocks} {pixels}"
                );
                // Equal tiles: the last one at most one tile short of the others.
                assert!(tiles * tile - pixels < tile);
                if pixels * pixel_bytes <= POOL_TILE_BYTES {
                    assert_eq!(tile, pixels);
                } else {
                    assert!(
                        tile * pixel_bytes <= POOL_TILE_BYTES || tile <= pool_tile(lanes),
                        "{lanes} {pooled_blocks} {pixels}: {tile}"
                    );
                    assert!(tile > pool_tile(lanes).min(pixels) / 2);
                }
            }
        }
    }
}
