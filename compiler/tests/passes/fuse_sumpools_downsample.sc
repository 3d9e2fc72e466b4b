// passes: decompose-structured,fuse-sumpools
// A downsampling block's 3x3 structured conv (box (5, 2, 2), pad 1) and its 1x1
// structured shortcut (box (5, 1, 1)) read the same tensor: the big pool becomes a
// (1, 2, 2) pool with pad 1 over the shortcut pool's channel sums.
model fuse_sumpools_downsample(x: [1, 8, 8, 8]) {
    let conv1 = sconv2d(x, 16, kernel=3, stride=2, pad=1, c=4, n=2);
    let short = sconv2d(x, 16, kernel=1, stride=2, c=4, n=1);
    return conv1 + short;
}
