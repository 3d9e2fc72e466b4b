// passes: decompose-structured,cse,fuse-sumpools,dce
// Groups: a depthwise structured conv's pool (8 groups, box (1, 2, 2)) is normalised to
// groups=1 and is then the same pool as the language's sumpool(x, 2, pad=1), so one
// serves both. The grouped 3x3 pool (2 groups, box (3, 2, 2)) is computed from it by a
// grouped channel pool (3, 1, 1). The grouped 1x1 pool (2 groups, box (3, 1, 1)) and the
// ungrouped 1x1 pool (box (3, 1, 1)) have different groups and stay separate.
model fuse_sumpools_grouped(x: [1, 8, 8, 8]) {
    let dw = sconv2d(x, 8, kernel=3, pad=1, groups=8, c=1, n=2);
    let s = sumpool(x, 2, pad=1);
    let g3 = sconv2d(x, 8, kernel=3, pad=1, groups=2, c=2, n=2);
    let g1 = sconv2d(x, 8, kernel=1, groups=2, c=2, n=1);
    let u1 = sconv2d(x, 8, kernel=1, c=6, n=1);
    return dw, s, g3, g1, u1;
}
