// passes: decompose-structured,fold-batchnorm,fuse-epilogue,cse,fuse-sumpools,dce,select-sumpool-algorithm,fold-constants
// weights: random
// A MobileNetV2 inverted residual block with structured pointwise and depthwise layers.
block inverted(x, ch: int, expand: int) {
    let expand_conv = sconv2d(x, ch * expand, kernel=1, c=ch / 2, n=1);
    let bn1 = batchnorm(expand_conv);
    let h1 = relu6(bn1);
    let dw = sconv2d(h1, ch * expand, kernel=3, pad=1, groups=ch * expand, c=1, n=2);
    let bn2 = batchnorm(dw);
    let h2 = relu6(bn2);
    let project = sconv2d(h2, ch, kernel=1, c=ch * expand / 2, n=1);
    let bn3 = batchnorm(project);
    return bn3 + x;
}

model mobilenet_block(x: [1, 8, 12, 12]) {
    let block1 = inverted(x, 8, 6);
    return block1;
}
