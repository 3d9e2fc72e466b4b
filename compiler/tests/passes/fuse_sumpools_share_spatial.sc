// passes: decompose-structured,fuse-sumpools
// Sharing on spatial axes: of the pools of x, the 3x3 sumpool (pad 1) is computed from
// the (1, 3) sumpool (pad (0, 1)) by a (3, 1) pool padded in height; the strided 3x3 one
// likewise, keeping its stride (width: window 1 at stride 2 just subsamples); the 3x3
// structured conv with n=1 (box (5, 3, 3), pad 1) ends up computed from the 3x3 sumpool
// by a channel pool (5, 1, 1) (first from the (1, 3) one, then from the (3, 1) pool over
// it). The strided 3x3 is not taken from the stride-1 3x3 (a pure subsample), as a pool
// is only computed from one with a smaller box.
model fuse_sumpools_share_spatial(x: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let k = sconv2d(x, 8, kernel=3, n=1, pad=1, c=4);
    let w = sumpool(x, (1, 3), pad=(0, 1));
    let st = sumpool(x, 3, stride=2, pad=1);
    return s, k, w, st;
}
