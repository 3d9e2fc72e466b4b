// passes: fold-batchnorm
// Batchnorms that must stay: after an add; after a conv that is also read by a relu;
// after a conv that is a model output; after an activation.
model fold_batchnorm_kept(x: [1, 4, 6, 6]) {
    let a = conv2d(x, 4, kernel=3, pad=1);
    let sum = a + x;
    let after_add = batchnorm(sum);
    let shared = conv2d(after_add, 4, kernel=1);
    let shared_bn = batchnorm(shared);
    let shared_relu = relu(shared);
    let out = conv2d(shared_bn + shared_relu, 4, kernel=1);
    let out_bn = batchnorm(out);
    let r = relu(out_bn);
    let after_relu = batchnorm(r);
    return out, after_relu;
}
