// Structured ResNet-34: torchvision's `resnet34()` with the convolutions of the four
// residual stages made structured (Bhalgat et al., 2020). 224x224 RGB input, 1000 classes.
//
//   - every 3x3 convolution of a stage: sconv2d(kernel=3, c=C/2, n=2), where C is that
//     convolution's input channel count: 2*C taps per output instead of 9*C;
//   - every 1x1 downsample (shortcut) convolution: sconv2d(kernel=1, c=C/2, n=1);
//   - the 7x7 stem convolution and the fc classifier stay dense.
//
// Parameters: 5,311,272 (vs 21,797,672 dense).
// MACs: 3,663,761,408 dense-equivalent, 911,708,160 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `resnet34.sc`, so weight names correspond one to
// one: torchvision's state_dict keys with every `.<digits>` written `_<digits>`
// (`layer2.0.downsample.0.weight` -> `layer2_0.downsample_0`). A structured layer's
// parameters are `<name>.alpha [out, c, n, n]`; given a dense `<name>.weight` instead
// (e.g. a renamed torchvision checkpoint), the compiler projects it onto the structure.

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

// First BasicBlock of stages 2-4 (ch / 2 -> ch, stride 2) with a structured 1x1 stride-2
// projection shortcut. conv1 and the shortcut see ch / 2 input channels, so their
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

model resnet34s(image: [1, 3, 224, 224]) {
    // Stem (dense): 7x7/2 convolution and 3x3/2 max pooling, 224 -> 112 -> 56.
    let conv1 = conv2d(image, 64, kernel=7, stride=2, pad=3);
    let bn1 = batchnorm(conv1);
    let stem = relu(bn1);
    let stem_pool = maxpool(stem, kernel=3, stride=2, pad=1);

    // Stage 1: 64 channels, 56x56.
    let layer1_0 = basic(stem_pool, 64);
    let layer1_1 = basic(layer1_0, 64);
    let layer1_2 = basic(layer1_1, 64);

    // Stage 2: 128 channels, 28x28.
    let layer2_0 = down(layer1_2, 128);
    let layer2_1 = basic(layer2_0, 128);
    let layer2_2 = basic(layer2_1, 128);
    let layer2_3 = basic(layer2_2, 128);

    // Stage 3: 256 channels, 14x14.
    let layer3_0 = down(layer2_3, 256);
    let layer3_1 = basic(layer3_0, 256);
    let layer3_2 = basic(layer3_1, 256);
    let layer3_3 = basic(layer3_2, 256);
    let layer3_4 = basic(layer3_3, 256);
    let layer3_5 = basic(layer3_4, 256);

    // Stage 4: 512 channels, 7x7.
    let layer4_0 = down(layer3_5, 512);
    let layer4_1 = basic(layer4_0, 512);
    let layer4_2 = basic(layer4_1, 512);

    // Head (dense): global average pooling and the 1000-way classifier.
    let pooled = flatten(global_avgpool(layer4_2));
    let fc = linear(pooled, 1000);
    return fc;
}
