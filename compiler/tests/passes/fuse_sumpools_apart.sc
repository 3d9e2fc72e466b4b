// passes: decompose-structured,fuse-sumpools
// Boxes that do not compose stay apart:
// - a 3x3 sumpool feeding a 3x3 structured conv (both sum over height and width);
// - a (2, 1) sumpool feeding a (1, 3) sumpool padded in height (the padding would lie
//   on an axis the first one sums over);
// - two pools of the same tensor whose boxes do not extend each other ((3, 1, 1) vs
//   (5, 2, 2): different channel windows).
model fuse_sumpools_apart(x: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let y = sconv2d(s, 8, kernel=3, pad=1, c=4, n=2);
    let u = sumpool(x, (2, 1));
    let v = sumpool(u, (1, 3), pad=(1, 0));
    let a = sconv2d(x, 8, kernel=1, c=6, n=1);
    let b = sconv2d(x, 8, kernel=3, pad=1, c=4, n=2);
    return y, v, a, b;
}
