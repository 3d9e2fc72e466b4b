// passes: choose-execution, decompose-structured, fold-batchnorm, fuse-epilogue, dce, choose-layout
// tier: avx2
// Blocked NCHW8c values from the first conv on (which reads the plain image directly), the
// fused pool never stored, a reorder to plain for the softmax and one for the output; the
// residual `x` is reordered once for its two users.
model m(x: [1, 48, 8, 8]) {
    let c = conv2d(x, 24, kernel=3, pad=1);
    let b = batchnorm(c);
    let e = sconv2d(relu(b), 48, kernel=1, c=12, n=1);
    let s = e + x;
    let t = s * x;
    let g = flatten(global_avgpool(t));
    return softmax(g), t;
}
