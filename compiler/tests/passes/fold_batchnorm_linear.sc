// passes: fold-batchnorm
// linear + batchnorm on [N, F] folds like a conv (bias from the linear's bias, or 0).
model fold_batchnorm_linear(x: [2, 12]) {
    let fc = linear(x, 6);
    let bn = batchnorm(fc);
    let nobias = linear(bn, 5, bias=false);
    let nobias_bn = batchnorm(nobias);
    return nobias_bn;
}
