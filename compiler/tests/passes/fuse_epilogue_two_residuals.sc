// passes: fuse-epilogue
// relu(conv + a) + b: two residual steps, each adding the next extra operand in order.
model fuse_epilogue_two_residuals(x: [1, 4, 6, 6], a: [1, 4, 6, 6], b: [1, 4, 6, 6]) {
    let conv = conv2d(x, 4, kernel=3, pad=1);
    return relu(conv + a) + b;
}
