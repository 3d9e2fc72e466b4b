// passes: fold-batchnorm,fold-constants
// Without bound weights fold-constants leaves the derived parameters as they are.
model fold_constants_unbound(x: [1, 4, 6, 6]) {
    let conv = conv2d(x, 8, kernel=3, pad=1);
    let bn = batchnorm(conv);
    return bn;
}
