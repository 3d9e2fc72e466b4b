// passes: decompose-structured
// A 3x3 structured conv with n=2, c=C/2: the box is (C-c+1, 3-2+1, 3-2+1) = (5, 2, 2),
// the padding moves into the pool, the small conv is 2x2 with no padding. The strided
// one keeps its stride on the small conv (the pool is always stride 1).
model decompose_sconv3x3(x: [1, 8, 8, 8]) {
    let conv = sconv2d(x, 16, kernel=3, pad=1, c=4, n=2);
    let strided = sconv2d(x, 16, kernel=3, stride=2, pad=1, c=4, n=2, bias=true);
    return conv, strided;
}
