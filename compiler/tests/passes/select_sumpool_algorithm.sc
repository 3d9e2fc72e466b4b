// passes: decompose-structured,fuse-sumpools,select-sumpool-algorithm
// A wide channel box (57 of 64 channels) is cheaper as running sums; a tiny strided box
// (2x2 at stride 4) computes fewer sums directly. At stride 1 the separable running sums
// never do more additions than the direct sums (a (1, 1, 2) box ties and takes them).
// (Separate inputs, so that fuse-sumpools does not compute one pool from another.)
model select_sumpool_algorithm(x: [1, 64, 8, 8], y: [1, 4, 8, 8], z: [1, 4, 8, 8]) {
    let wide = sconv2d(x, 16, kernel=1, c=8, n=1);
    let tiny = sumpool(y, 2, stride=4);
    let tie = sumpool(z, (1, 2));
    return wide, tiny, tie;
}
