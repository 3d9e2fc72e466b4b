// Structured ResNet-20 for CIFAR-10 (He et al., 2016; structured convolutions of Bhalgat
// et al., 2020): 32x32 RGB input, 10 classes. The dense network is `resnet20.sc`; here
//
//   - every 3x3 convolution of the three stages: sconv2d(kernel=3, c=C/2, n=2), where C is
//     that convolution's input channel count;
//   - the 1x1 stride-2 projection shortcuts: sconv2d(kernel=1, c=C/2, n=1);
//   - the stem convolution and the fc classifier stay dense.
//
// Parameters: 63,322 (vs 272,474 dense).
// MACs: 40,813,184 dense-equivalent, 9,486,976 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `resnet20.sc`: `conv1`, `bn1`, blocks
// `layer<stage>_<index>` each with `conv1 bn1 conv2 bn2` and, when downsampling,
// `downsample_0` (1x1 conv) and `downsample_1` (its batchnorm); `fc`. A structured layer's
// parameters are `<name>.alpha [out, c, n, n]`; given a dense `<name>.weight` instead, the
// compiler projects it onto the structure.

// BasicBlock keeping the shape (ch -> ch): two structured 3x3 convolutions, identity
// shortcut. Both convolutions see ch input channels, so c = ch / 2.
block basic(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

// First BasicBlock of stages 2 and 3 (ch / 2 -> ch, stride 2) with a structured 1x1
// stride-2 projection shortcut. conv1 and the shortcut see ch / 2 input channels, so their
// c = (ch / 2) / 2 = ch / 4; conv2 sees ch, so its c = ch / 2.
block down(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=2, pad=1, c=ch / 4, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    let downsample_0 = sconv2d(x, ch, kernel=1, stride=2, c=ch / 4, n=1);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn2 + downsample_1);
}

model resnet20s(image: [1, 3, 32, 32]) {
    // Stem (dense): one 3x3 convolution to 16 channels, 32x32.
    let conv1 = conv2d(image, 16, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let stem = relu(bn1);

    // Stage 1: 16 channels, 32x32.
    let layer1_0 = basic(stem, 16);
    let layer1_1 = basic(layer1_0, 16);
    let layer1_2 = basic(layer1_1, 16);

    // Stage 2: 32 channels, 16x16.
    let layer2_0 = down(layer1_2, 32);
    let layer2_1 = basic(layer2_0, 32);
    let layer2_2 = basic(layer2_1, 32);

    // Stage 3: 64 channels, 8x8.
    let layer3_0 = down(layer2_2, 64);
    let layer3_1 = basic(layer3_0, 64);
    let layer3_2 = basic(layer3_1, 64);

    // Head (dense): global average pooling and the 10-way classifier.
    let pooled = flatten(global_avgpool(layer3_2));
    let fc = linear(pooled, 10);
    return fc;
}
