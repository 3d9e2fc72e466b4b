// passes: decompose-structured,fold-batchnorm,fuse-epilogue,cse,fuse-sumpools,dce,select-sumpool-algorithm,fold-constants
// Structured ResNet basic blocks, one keeping the shape and one downsampling.
block basic(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

block down(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=2, pad=1, c=ch / 4, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    let short = sconv2d(x, ch, kernel=1, stride=2, c=ch / 4, n=1);
    let short_bn = batchnorm(short);
    return relu(bn2 + short_bn);
}

model resblock(x: [1, 8, 16, 16]) {
    let b1 = basic(x, 8);
    let b2 = down(b1, 16);
    return b2;
}
