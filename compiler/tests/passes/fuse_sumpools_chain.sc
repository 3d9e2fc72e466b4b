// passes: decompose-structured,fuse-sumpools
// A sumpool (3x3, pad 1) feeding a 1x1 structured conv with c < C (box (5, 1, 1)): the
// boxes are on disjoint axes and compose into one (5, 3, 3) pool with pad 1, which then
// reuses the channel sums of the other 1x1 structured conv on x (box (5, 1, 1)).
// A (2, 1) sumpool feeding a (1, 3) sumpool padded only in width composes into one
// (1, 2, 3) pool with pad (0, 1).
model fuse_sumpools_chain(x: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let y = sconv2d(s, 16, kernel=1, c=4, n=1);
    let z = sconv2d(x, 8, kernel=1, c=4, n=1);
    let u = sumpool(x, (2, 1));
    let v = sumpool(u, (1, 3), pad=(0, 1));
    return y, z, v;
}
