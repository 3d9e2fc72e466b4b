// passes: fold-batchnorm,fold-constants
// weights: random
// With bound weights the folded batchnorm's weight arithmetic becomes constants.
model fold_constants(x: [1, 4, 6, 6]) {
    let conv = conv2d(x, 8, kernel=3, pad=1, bias=true);
    let bn = batchnorm(conv);
    let fc = linear(flatten(global_avgpool(bn)), 3);
    return fc;
}
