// passes: fold-batchnorm,fold-constants
// weights: random
// Two batchnorms in a row both fold into the conv (the second over the first's derived
// parameters), and fold-constants evaluates the nested arithmetic into constants.
model fold_batchnorm_twice(x: [1, 4, 6, 6]) {
    let conv = conv2d(x, 8, kernel=3, pad=1, groups=2, bias=true);
    let bn = batchnorm(conv);
    let bn2 = batchnorm(bn, eps=1e-3);
    return bn2;
}
