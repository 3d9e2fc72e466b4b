// passes: decompose-structured,fuse-sumpools
// Boxes that do not compose stay apart:
// - a 3x3 sumpool feeding a 3x3 structured conv (both sum over height and width);
// - a (2, 1) sumpool feeding a (3, 1) sumpool (both sum over height: a trapezoid);
// - two pools of the same tensor whose boxes do not extend each other ((3, 1, 1) vs
//   (5, 2, 2): different channel windows);
// - a strided sumpool (2x2 at stride 2) feeding a 1x1 structured conv: the boxes are on
//   disjoint axes, but chains merge only when the inner pool has stride 1 (on its own
//   input x2, so that it is not computed from the (2, 1) sumpool of x instead).
model fuse_sumpools_apart(x: [1, 8, 8, 8], x2: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let y = sconv2d(s, 8, kernel=3, pad=1, c=4, n=2);
    let u = sumpool(x, (2, 1));
    let v = sumpool(u, (3, 1));
    let a = sconv2d(x, 8, kernel=1, c=6, n=1);
    let b = sconv2d(x, 8, kernel=3, pad=1, c=4, n=2);
    let p = sumpool(x2, 2, stride=2);
    let q = sconv2d(p, 8, kernel=1, c=4, n=1);
    return y, v, a, b, q;
}
