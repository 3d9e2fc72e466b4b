// passes: decompose-structured,fuse-sumpools
// The chain alone: sumpool 3x3 pad 1 then a 1x1 structured conv with c=4 of 8 channels
// (box (5, 1, 1)) is one (5, 3, 3) pool with pad 1 and stride 1; a strided 1x1
// structured conv keeps its stride on the small conv.
model fuse_sumpools_chain_alone(x: [1, 8, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let y = sconv2d(s, 16, kernel=1, stride=2, c=4, n=1);
    return y;
}
