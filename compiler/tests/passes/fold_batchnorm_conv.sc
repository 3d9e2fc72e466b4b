// passes: decompose-structured,fold-batchnorm
// conv + batchnorm folds (bias from 0, or from the conv's own bias); a structured conv's
// batchnorm folds into the small conv over alpha after decomposition.
model fold_batchnorm_conv(x: [1, 8, 8, 8]) {
    let conv = conv2d(x, 8, kernel=3, pad=1);
    let bn = batchnorm(conv);
    let biased = conv2d(bn, 8, kernel=1, bias=true);
    let biased_bn = batchnorm(biased, eps=1e-3);
    let sconv = sconv2d(biased_bn, 8, kernel=3, pad=1, c=4, n=2);
    let sconv_bn = batchnorm(sconv);
    return sconv_bn;
}
