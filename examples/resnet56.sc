// ResNet-56 for CIFAR-10 (He et al., 2016, section 4.2): dense, 32x32 RGB input, 10
// classes. Three stages of nine BasicBlocks with 16, 32 and 64 channels (n = 9, 6n+2 = 56
// layers); the first block of stages 2 and 3 downsamples with a stride-2 3x3 convolution
// and a 1x1 stride-2 convolution + batchnorm projection shortcut (option B).
//
// Parameters: 855,770 (conv/linear weights, linear bias, batchnorm weight and bias;
// running statistics not counted).  Dense MACs: 125,747,840.
//
// Names follow resnet18.sc (torchvision style, `.<digits>` written `_<digits>`): `conv1`,
// `bn1`, blocks `layer<stage>_<index>` each with `conv1 bn1 conv2 bn2` and, when
// downsampling, `downsample_0` (1x1 conv) and `downsample_1` (its batchnorm); `fc`.
// The structured version, with the same names, is `resnet56s.sc`.

// BasicBlock keeping the shape: two 3x3 convolutions and an identity shortcut.
block basic(x, ch: int) {
    let conv1 = conv2d(x, ch, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = conv2d(h, ch, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

// First BasicBlock of stages 2 and 3: halves the resolution and doubles the channels
// (input has ch / 2 channels), with a 1x1 stride-2 projection shortcut.
block down(x, ch: int) {
    let conv1 = conv2d(x, ch, kernel=3, stride=2, pad=1);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = conv2d(h, ch, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    let downsample_0 = conv2d(x, ch, kernel=1, stride=2);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn2 + downsample_1);
}

model resnet56(image: [1, 3, 32, 32]) {
    // Stem: one 3x3 convolution to 16 channels, 32x32.
    let conv1 = conv2d(image, 16, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let stem = relu(bn1);

    // Stage 1: 16 channels, 32x32.
    let layer1_0 = basic(stem, 16);
    let layer1_1 = basic(layer1_0, 16);
    let layer1_2 = basic(layer1_1, 16);
    let layer1_3 = basic(layer1_2, 16);
    let layer1_4 = basic(layer1_3, 16);
    let layer1_5 = basic(layer1_4, 16);
    let layer1_6 = basic(layer1_5, 16);
    let layer1_7 = basic(layer1_6, 16);
    let layer1_8 = basic(layer1_7, 16);

    // Stage 2: 32 channels, 16x16.
    let layer2_0 = down(layer1_8, 32);
    let layer2_1 = basic(layer2_0, 32);
    let layer2_2 = basic(layer2_1, 32);
    let layer2_3 = basic(layer2_2, 32);
    let layer2_4 = basic(layer2_3, 32);
    let layer2_5 = basic(layer2_4, 32);
    let layer2_6 = basic(layer2_5, 32);
    let layer2_7 = basic(layer2_6, 32);
    let layer2_8 = basic(layer2_7, 32);

    // Stage 3: 64 channels, 8x8.
    let layer3_0 = down(layer2_8, 64);
    let layer3_1 = basic(layer3_0, 64);
    let layer3_2 = basic(layer3_1, 64);
    let layer3_3 = basic(layer3_2, 64);
    let layer3_4 = basic(layer3_3, 64);
    let layer3_5 = basic(layer3_4, 64);
    let layer3_6 = basic(layer3_5, 64);
    let layer3_7 = basic(layer3_6, 64);
    let layer3_8 = basic(layer3_7, 64);
    // Head: global average pooling and the 10-way classifier.
    let pooled = flatten(global_avgpool(layer3_8));
    let fc = linear(pooled, 10);
    return fc;
}
