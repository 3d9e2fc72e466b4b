// passes: fuse-epilogue, dce, choose-layout
// tier: avx512
// `transpose` has no channel-blocked kernel: the blocked conv before it is reordered to
// plain for it, the dense conv after it reads its plain value directly, and the `+` (fused
// into that conv as its residual) reads it through one reorder to NCHW16c.
model m(x: [1, 16, 6, 10]) {
    let a = conv2d(x, 16, kernel=3, pad=1);
    let t = transpose(a, perm=[0, 1, 3, 2]);
    let b = conv2d(t, 16, kernel=3, pad=1);
    return relu(b) + t;
}
