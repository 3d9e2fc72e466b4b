// Structured MobileNetV2: torchvision's `mobilenet_v2()` (width 1.0, 224x224 RGB input,
// 1000 classes) with its convolutions made structured (Bhalgat et al., 2020):
//
//   - every 1x1 expansion and projection convolution: sconv2d(kernel=1, c=C/2, n=1), where
//     C is that convolution's input channel count;
//   - every 3x3 depthwise convolution: sconv2d(kernel=3, groups=hidden, c=1, n=2)
//     (one input channel per group, so c = 1 and only the 3x3 -> 2x2 spatial structure);
//   - the last 1x1 convolution (320 -> 1280, features[18]) is structured too, c = 160;
//   - the 3x3 stem convolution (features[0]) and the classifier stay dense.
//
// Parameters: 2,406,856 (vs 3,504,872 dense).
// MACs: 300,774,272 dense-equivalent, 155,295,232 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `mobilenetv2.sc`: torchvision's state_dict keys
// with every `.<digits>` written `_<digits>` (`features.2.conv.1.0.weight` ->
// `features_2.conv_1_0`). A structured layer's parameters are `<name>.alpha`; given a
// dense `<name>.weight` instead (e.g. a renamed torchvision checkpoint), the compiler
// projects it onto the structure. Inside a block:
//     conv_0_0 / conv_0_1   expansion 1x1 conv / its batchnorm   (absent when t = 1)
//     conv_1_0 / conv_1_1   depthwise 3x3 conv / its batchnorm
//     conv_2   / conv_3     projection 1x1 conv / its batchnorm
// and, for t = 1, the depthwise pair is conv_0_0 / conv_0_1 and the projection conv_1 / conv_2.

// Inverted residual with expansion factor t and no shortcut (in_ch -> out_ch): used where
// the stride is 2 or the channel count changes. The hidden width is in_ch * t.
block inverted(x, in_ch: int, out_ch: int, t: int, stride: int = 1) {
    let conv_0_0 = sconv2d(x, in_ch * t, kernel=1, c=in_ch / 2, n=1);      // expansion
    let conv_0_1 = batchnorm(conv_0_0);
    let expanded = relu6(conv_0_1);
    let conv_1_0 = sconv2d(expanded, in_ch * t, kernel=3, stride=stride, pad=1,
                           groups=in_ch * t, c=1, n=2);                    // depthwise
    let conv_1_1 = batchnorm(conv_1_0);
    let filtered = relu6(conv_1_1);
    let conv_2 = sconv2d(filtered, out_ch, kernel=1, c=in_ch * t / 2, n=1); // projection
    let conv_3 = batchnorm(conv_2);
    return conv_3;
}

// Inverted residual with expansion factor t, stride 1 and an identity shortcut (ch -> ch).
block inverted_res(x, ch: int, t: int) {
    let conv_0_0 = sconv2d(x, ch * t, kernel=1, c=ch / 2, n=1);            // expansion
    let conv_0_1 = batchnorm(conv_0_0);
    let expanded = relu6(conv_0_1);
    let conv_1_0 = sconv2d(expanded, ch * t, kernel=3, pad=1,
                           groups=ch * t, c=1, n=2);                       // depthwise
    let conv_1_1 = batchnorm(conv_1_0);
    let filtered = relu6(conv_1_1);
    let conv_2 = sconv2d(filtered, ch, kernel=1, c=ch * t / 2, n=1);        // projection
    let conv_3 = batchnorm(conv_2);
    return conv_3 + x;
}

// Inverted residual with t = 1 (features[1] only): no expansion, no shortcut.
block inverted_t1(x, in_ch: int, out_ch: int, stride: int = 1) {
    let conv_0_0 = sconv2d(x, in_ch, kernel=3, stride=stride, pad=1,
                           groups=in_ch, c=1, n=2);                        // depthwise
    let conv_0_1 = batchnorm(conv_0_0);
    let filtered = relu6(conv_0_1);
    let conv_1 = sconv2d(filtered, out_ch, kernel=1, c=in_ch / 2, n=1);     // projection
    let conv_2 = batchnorm(conv_1);
    return conv_2;
}

model mobilenetv2s(image: [1, 3, 224, 224]) {
    // features[0] (dense): 3x3/2 convolution, 224 -> 112.
    let features_0_0 = conv2d(image, 32, kernel=3, stride=2, pad=1);
    let features_0_1 = batchnorm(features_0_0);
    let stem = relu6(features_0_1);

    // (t, c, n, s) = (1, 16, 1, 1): 112x112.
    let features_1 = inverted_t1(stem, 32, 16);

    // (6, 24, 2, 2): 56x56.
    let features_2 = inverted(features_1, 16, 24, 6, stride=2);
    let features_3 = inverted_res(features_2, 24, 6);

    // (6, 32, 3, 2): 28x28.
    let features_4 = inverted(features_3, 24, 32, 6, stride=2);
    let features_5 = inverted_res(features_4, 32, 6);
    let features_6 = inverted_res(features_5, 32, 6);

    // (6, 64, 4, 2): 14x14.
    let features_7 = inverted(features_6, 32, 64, 6, stride=2);
    let features_8 = inverted_res(features_7, 64, 6);
    let features_9 = inverted_res(features_8, 64, 6);
    let features_10 = inverted_res(features_9, 64, 6);

    // (6, 96, 3, 1): 14x14.
    let features_11 = inverted(features_10, 64, 96, 6);
    let features_12 = inverted_res(features_11, 96, 6);
    let features_13 = inverted_res(features_12, 96, 6);

    // (6, 160, 3, 2): 7x7.
    let features_14 = inverted(features_13, 96, 160, 6, stride=2);
    let features_15 = inverted_res(features_14, 160, 6);
    let features_16 = inverted_res(features_15, 160, 6);

    // (6, 320, 1, 1): 7x7.
    let features_17 = inverted(features_16, 160, 320, 6);

    // features[18] (structured): last 1x1 convolution to 1280 channels, c = 320 / 2.
    let features_18_0 = sconv2d(features_17, 1280, kernel=1, c=160, n=1);
    let features_18_1 = batchnorm(features_18_0);
    let last = relu6(features_18_1);

    // Classifier (dense): global average pooling, (dropout = identity), 1000-way linear.
    let pooled = flatten(global_avgpool(last));
    let classifier_1 = linear(pooled, 1000);
    return classifier_1;
}
