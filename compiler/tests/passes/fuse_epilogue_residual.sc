// passes: fold-batchnorm,fuse-epilogue
// A residual block: conv+bn (folded into the bias), relu -> epilogue [relu];
// conv+bn, + x, relu -> epilogue [residual, relu] with x as the extra operand.
model fuse_epilogue_residual(x: [1, 8, 8, 8]) {
    let conv1 = conv2d(x, 8, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = conv2d(h, 8, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}
