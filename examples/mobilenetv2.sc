// MobileNetV2 (Sandler et al., 2018), exactly torchvision's `mobilenet_v2()`: width
// multiplier 1.0, dense, 224x224 RGB input, 1000 classes. The classifier's dropout is the
// identity at inference and is left out.
//
// Parameters: 3,504,872 (conv/linear weights, linear bias, batchnorm weight and bias;
// running statistics not counted).  Dense MACs: 300,774,272.
//
// Weight names are torchvision's state_dict keys with every `.<digits>` written
// `_<digits>` (identifiers cannot contain dots); `--weights` applies that rename
// (`s/\.([0-9]+)/_\1/g`) to a state_dict saved by PyTorch, so a torchvision checkpoint
// loads as saved:
//     features.0.0.weight            -> features_0_0.weight      (stem convolution)
//     features.2.conv.1.0.weight     -> features_2.conv_1_0.weight   (a depthwise conv)
//     features.18.1.running_mean     -> features_18_1.running_mean
//     classifier.1.weight            -> classifier_1.weight
// Inside an inverted residual block torchvision's `conv` sequence is
//     conv_0_0 / conv_0_1   expansion 1x1 conv / its batchnorm   (absent when t = 1)
//     conv_1_0 / conv_1_1   depthwise 3x3 conv / its batchnorm
//     conv_2   / conv_3     projection 1x1 conv / its batchnorm
// and, for t = 1, the depthwise pair is conv_0_0 / conv_0_1 and the projection conv_1 / conv_2.
//
// The structured version, with the same names, is `mobilenetv2s.sc`.

// Inverted residual with expansion factor t and no shortcut (in_ch -> out_ch): used where
// the stride is 2 or the channel count changes.
block inverted(x, in_ch: int, out_ch: int, t: int, stride: int = 1) {
    let conv_0_0 = conv2d(x, in_ch * t, kernel=1);                    // expansion
    let conv_0_1 = batchnorm(conv_0_0);
    let expanded = relu6(conv_0_1);
    let conv_1_0 = conv2d(expanded, in_ch * t, kernel=3, stride=stride, pad=1,
                          groups=in_ch * t);                          // depthwise
    let conv_1_1 = batchnorm(conv_1_0);
    let filtered = relu6(conv_1_1);
    let conv_2 = conv2d(filtered, out_ch, kernel=1);                  // linear projection
    let conv_3 = batchnorm(conv_2);
    return conv_3;
}

// Inverted residual with expansion factor t, stride 1 and an identity shortcut (ch -> ch).
block inverted_res(x, ch: int, t: int) {
    let conv_0_0 = conv2d(x, ch * t, kernel=1);                       // expansion
    let conv_0_1 = batchnorm(conv_0_0);
    let expanded = relu6(conv_0_1);
    let conv_1_0 = conv2d(expanded, ch * t, kernel=3, pad=1, groups=ch * t); // depthwise
    let conv_1_1 = batchnorm(conv_1_0);
    let filtered = relu6(conv_1_1);
    let conv_2 = conv2d(filtered, ch, kernel=1);                      // linear projection
    let conv_3 = batchnorm(conv_2);
    return conv_3 + x;
}

// Inverted residual with t = 1 (features[1] only): no expansion, no shortcut.
block inverted_t1(x, in_ch: int, out_ch: int, stride: int = 1) {
    let conv_0_0 = conv2d(x, in_ch, kernel=3, stride=stride, pad=1, groups=in_ch); // depthwise
    let conv_0_1 = batchnorm(conv_0_0);
    let filtered = relu6(conv_0_1);
    let conv_1 = conv2d(filtered, out_ch, kernel=1);                  // linear projection
    let conv_2 = batchnorm(conv_1);
    return conv_2;
}

model mobilenetv2(image: [1, 3, 224, 224]) {
    // features[0]: 3x3/2 convolution, 224 -> 112.
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

    // features[18]: last 1x1 convolution to 1280 channels.
    let features_18_0 = conv2d(features_17, 1280, kernel=1);
    let features_18_1 = batchnorm(features_18_0);
    let last = relu6(features_18_1);

    // Classifier: global average pooling, (dropout = identity), 1000-way linear layer.
    let pooled = flatten(global_avgpool(last));
    let classifier_1 = linear(pooled, 1000);
    return classifier_1;
}
