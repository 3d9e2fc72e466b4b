// Structured ResNet-50: torchvision's `resnet50()` with every convolution of the four
// residual stages made structured, the bottleneck 1x1 convolutions included (Bhalgat et
// al., 2020). 224x224 RGB input, 1000 classes.
//
//   - every 3x3 convolution of a Bottleneck: sconv2d(kernel=3, c=C/2, n=2), where C is
//     that convolution's input channel count: 2*C taps per output instead of 9*C;
//   - every 1x1 convolution of a Bottleneck (reduce, expand) and every 1x1 downsample
//     (shortcut) convolution: sconv2d(kernel=1, c=C/2, n=1): C/2 taps instead of C;
//   - the 7x7 stem convolution and the fc classifier stay dense.
//
// Parameters: 10,690,600 (vs 25,557,032 dense).
// MACs: 4,089,184,256 dense-equivalent, 1,590,820,864 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `resnet50.sc`, so weight names correspond one to
// one: torchvision's state_dict keys with every `.<digits>` written `_<digits>`
// (`layer2.0.downsample.0.weight` -> `layer2_0.downsample_0`). A structured layer's
// parameters are `<name>.alpha [out, c, n, n]`; given a dense `<name>.weight` instead
// (e.g. a renamed torchvision checkpoint), the compiler projects it onto the structure.

// Bottleneck keeping the shape (4 * width channels in and out), identity shortcut. conv1
// sees 4 * width input channels (c = 2 * width); conv2 and conv3 see width (c = width / 2).
block bottleneck(x, width: int) {
    let conv1 = sconv2d(x, width, kernel=1, c=2 * width, n=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = sconv2d(h1, width, kernel=3, pad=1, c=width / 2, n=2);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = sconv2d(h2, 4 * width, kernel=1, c=width / 2, n=1);
    let bn3 = batchnorm(conv3);
    return relu(bn3 + x);
}

// First Bottleneck of a stage (in_ch -> 4 * width, `stride` on the 3x3 convolution and
// the shortcut). conv1 and the shortcut see in_ch input channels (c = in_ch / 2).
block down(x, in_ch: int, width: int, stride: int) {
    let conv1 = sconv2d(x, width, kernel=1, c=in_ch / 2, n=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = sconv2d(h1, width, kernel=3, stride=stride, pad=1, c=width / 2, n=2);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = sconv2d(h2, 4 * width, kernel=1, c=width / 2, n=1);
    let bn3 = batchnorm(conv3);
    let downsample_0 = sconv2d(x, 4 * width, kernel=1, stride=stride, c=in_ch / 2, n=1);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn3 + downsample_1);
}

model resnet50s(image: [1, 3, 224, 224]) {
    // Stem (dense): 7x7/2 convolution and 3x3/2 max pooling, 224 -> 112 -> 56.
    let conv1 = conv2d(image, 64, kernel=7, stride=2, pad=3);
    let bn1 = batchnorm(conv1);
    let stem = relu(bn1);
    let stem_pool = maxpool(stem, kernel=3, stride=2, pad=1);

    // Stage 1: width 64, 256 channels out, 56x56.
    let layer1_0 = down(stem_pool, 64, 64, 1);
    let layer1_1 = bottleneck(layer1_0, 64);
    let layer1_2 = bottleneck(layer1_1, 64);

    // Stage 2: width 128, 512 channels out, 28x28.
    let layer2_0 = down(layer1_2, 256, 128, 2);
    let layer2_1 = bottleneck(layer2_0, 128);
    let layer2_2 = bottleneck(layer2_1, 128);
    let layer2_3 = bottleneck(layer2_2, 128);

    // Stage 3: width 256, 1024 channels out, 14x14.
    let layer3_0 = down(layer2_3, 512, 256, 2);
    let layer3_1 = bottleneck(layer3_0, 256);
    let layer3_2 = bottleneck(layer3_1, 256);
    let layer3_3 = bottleneck(layer3_2, 256);
    let layer3_4 = bottleneck(layer3_3, 256);
    let layer3_5 = bottleneck(layer3_4, 256);

    // Stage 4: width 512, 2048 channels out, 7x7.
    let layer4_0 = down(layer3_5, 1024, 512, 2);
    let layer4_1 = bottleneck(layer4_0, 512);
    let layer4_2 = bottleneck(layer4_1, 512);

    // Head (dense): global average pooling and the 1000-way classifier.
    let pooled = flatten(global_avgpool(layer4_2));
    let fc = linear(pooled, 1000);
    return fc;
}
