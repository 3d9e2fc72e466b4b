// passes: decompose-structured
// c = C and n = kernel: the box is (1, 1, 1), so the structured conv is a plain conv
// with its own padding and no pooling node at all. Same for a 1x1 with c = C.
model decompose_degenerate(x: [1, 8, 8, 8]) {
    let conv = sconv2d(x, 16, kernel=3, pad=1, c=8, n=3);
    let pointwise = sconv2d(x, 16, kernel=1, c=8, n=1, bias=true);
    return conv, pointwise;
}
