// passes: decompose-structured,fuse-sumpools
// A sumpool (3x3, pad 1) feeding a 1x1 structured conv with c < C (box (5, 1, 1)): the
// boxes are on disjoint axes and compose into one (5, 3, 3) pool with pad 1. The other
// order (channel box first, then a padded spatial sumpool) composes as well.
model fuse_sumpools_chain(x: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let y = sconv2d(s, 16, kernel=1, c=4, n=1);
    let z = sconv2d(x, 8, kernel=1, c=4, n=1);
    let t = sumpool(z, 3, pad=1);
    return y, t;
}
