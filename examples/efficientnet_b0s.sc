// Structured EfficientNet-B0: torchvision's `efficientnet_b0()` (224x224 RGB input, 1000
// classes) with its convolutions made structured (Bhalgat et al., 2020):
//
//   - every 1x1 expansion and projection convolution: sconv2d(kernel=1, c=C/2, n=1), where
//     C is that convolution's input channel count;
//   - every depthwise convolution: sconv2d(groups=hidden, c=1) (one input channel per
//     group, so only spatial structure): 3x3 with n=2 (4 taps instead of 9), 5x5 with
//     n=3 (9 taps instead of 25);
//   - both 1x1 convolutions of every squeeze-excitation (fc1, fc2, with their biases):
//     sconv2d(kernel=1, c=C/2, n=1);
//   - the last 1x1 convolution (320 -> 1280, features[8]) too, c = 160;
//   - the 3x3 stem convolution (features[0]) and the classifier stay dense.
//
// Parameters: 3,287,396 (vs 5,288,548 dense).
// MACs: 385,814,752 dense-equivalent, 195,230,624 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `efficientnet_b0.sc`: torchvision's state_dict
// keys with every `.<digits>` written `_<digits>` (`features.2.0.block.1.0.weight` ->
// `features_2_0.block_1_0`). A structured layer's parameters are `<name>.alpha`; given a
// dense `<name>.weight` instead (e.g. a renamed torchvision checkpoint), the compiler
// projects it onto the structure. Inside an MBConv block:
//     block_0_0 / block_0_1   expansion 1x1 conv / its batchnorm   (absent when t = 1)
//     block_1_0 / block_1_1   depthwise conv / its batchnorm
//     block_2                 squeeze-excitation (fc1, fc2: 1x1 convs with bias)
//     block_3_0 / block_3_1   projection 1x1 conv / its batchnorm
// and, for t = 1 (features[1]), the depthwise pair is block_0_*, the squeeze-excitation
// block_1 and the projection block_2_*.

// Squeeze-and-excitation, both 1x1 convolutions structured: fc1 sees ch channels
// (c = ch / 2), fc2 sees squeeze (c = squeeze / 2).
block squeeze_excitation(x, ch: int, squeeze: int) {
    let pooled = global_avgpool(x);
    let fc1 = sconv2d(pooled, squeeze, kernel=1, c=ch / 2, n=1, bias=true);
    let fc2 = sconv2d(silu(fc1), ch, kernel=1, c=squeeze / 2, n=1, bias=true);
    return x * sigmoid(fc2);
}

// MBConv with expansion factor 6 and no shortcut (in_ch -> out_ch): the first block of
// a stage. The hidden width is 6 * in_ch, the squeeze width in_ch / 4; the depthwise
// structure is n = (kernel + 1) / 2 (2 for 3x3, 3 for 5x5).
block mbconv(x, in_ch: int, out_ch: int, kernel: int, stride: int = 1) {
    let block_0_0 = sconv2d(x, 6 * in_ch, kernel=1, c=in_ch / 2, n=1);       // expansion
    let block_0_1 = batchnorm(block_0_0);
    let expanded = silu(block_0_1);
    let block_1_0 = sconv2d(expanded, 6 * in_ch, kernel=kernel, stride=stride,
                            pad=kernel / 2, groups=6 * in_ch,
                            c=1, n=(kernel + 1) / 2);                         // depthwise
    let block_1_1 = batchnorm(block_1_0);
    let filtered = silu(block_1_1);
    let block_2 = squeeze_excitation(filtered, 6 * in_ch, in_ch / 4);
    let block_3_0 = sconv2d(block_2, out_ch, kernel=1, c=3 * in_ch, n=1);    // projection
    let block_3_1 = batchnorm(block_3_0);
    return block_3_1;
}

// MBConv with expansion factor 6, stride 1 and an identity shortcut (ch -> ch).
block mbconv_res(x, ch: int, kernel: int) {
    let block_0_0 = sconv2d(x, 6 * ch, kernel=1, c=ch / 2, n=1);              // expansion
    let block_0_1 = batchnorm(block_0_0);
    let expanded = silu(block_0_1);
    let block_1_0 = sconv2d(expanded, 6 * ch, kernel=kernel, pad=kernel / 2,
                            groups=6 * ch, c=1, n=(kernel + 1) / 2);          // depthwise
    let block_1_1 = batchnorm(block_1_0);
    let filtered = silu(block_1_1);
    let block_2 = squeeze_excitation(filtered, 6 * ch, ch / 4);
    let block_3_0 = sconv2d(block_2, ch, kernel=1, c=3 * ch, n=1);           // projection
    let block_3_1 = batchnorm(block_3_0);
    return block_3_1 + x;
}

// MBConv with t = 1 (features[1] only): no expansion, no shortcut.
block mbconv1(x, in_ch: int, out_ch: int) {
    let block_0_0 = sconv2d(x, in_ch, kernel=3, pad=1, groups=in_ch, c=1, n=2); // depthwise
    let block_0_1 = batchnorm(block_0_0);
    let filtered = silu(block_0_1);
    let block_1 = squeeze_excitation(filtered, in_ch, in_ch / 4);
    let block_2_0 = sconv2d(block_1, out_ch, kernel=1, c=in_ch / 2, n=1);     // projection
    let block_2_1 = batchnorm(block_2_0);
    return block_2_1;
}

model efficientnet_b0s(image: [1, 3, 224, 224]) {
    // features[0] (dense): 3x3/2 convolution, 224 -> 112.
    let features_0_0 = conv2d(image, 32, kernel=3, stride=2, pad=1);
    let features_0_1 = batchnorm(features_0_0);
    let stem = silu(features_0_1);

    // features[1]: MBConv1, 3x3, 1 block to 16 channels, 112x112.
    let features_1_0 = mbconv1(stem, 32, 16);

    // features[2]: MBConv6, 3x3, 2 blocks to 24 channels, 56x56.
    let features_2_0 = mbconv(features_1_0, 16, 24, kernel=3, stride=2);
    let features_2_1 = mbconv_res(features_2_0, 24, kernel=3);

    // features[3]: MBConv6, 5x5, 2 blocks to 40 channels, 28x28.
    let features_3_0 = mbconv(features_2_1, 24, 40, kernel=5, stride=2);
    let features_3_1 = mbconv_res(features_3_0, 40, kernel=5);

    // features[4]: MBConv6, 3x3, 3 blocks to 80 channels, 14x14.
    let features_4_0 = mbconv(features_3_1, 40, 80, kernel=3, stride=2);
    let features_4_1 = mbconv_res(features_4_0, 80, kernel=3);
    let features_4_2 = mbconv_res(features_4_1, 80, kernel=3);

    // features[5]: MBConv6, 5x5, 3 blocks to 112 channels, 14x14.
    let features_5_0 = mbconv(features_4_2, 80, 112, kernel=5);
    let features_5_1 = mbconv_res(features_5_0, 112, kernel=5);
    let features_5_2 = mbconv_res(features_5_1, 112, kernel=5);

    // features[6]: MBConv6, 5x5, 4 blocks to 192 channels, 7x7.
    let features_6_0 = mbconv(features_5_2, 112, 192, kernel=5, stride=2);
    let features_6_1 = mbconv_res(features_6_0, 192, kernel=5);
    let features_6_2 = mbconv_res(features_6_1, 192, kernel=5);
    let features_6_3 = mbconv_res(features_6_2, 192, kernel=5);

    // features[7]: MBConv6, 3x3, 1 block to 320 channels, 7x7.
    let features_7_0 = mbconv(features_6_3, 192, 320, kernel=3);

    // features[8] (structured): 1x1 convolution to 1280 channels, c = 320 / 2.
    let features_8_0 = sconv2d(features_7_0, 1280, kernel=1, c=160, n=1);
    let features_8_1 = batchnorm(features_8_0);
    let last = silu(features_8_1);

    // Classifier (dense): global average pooling, (dropout = identity), 1000-way linear.
    let pooled = flatten(global_avgpool(last));
    let classifier_1 = linear(pooled, 1000);
    return classifier_1;
}
