// ResNet-50 (He et al., 2016), exactly torchvision's `resnet50()` (ResNet v1.5: the
// stride of a downsampling Bottleneck is on its 3x3 convolution): dense, ImageNet
// classifier, 224x224 RGB input, 1000 classes. Four stages of 3, 4, 6 and 3 Bottlenecks
// of width 64, 128, 256 and 512 (1x1 reduce, 3x3, 1x1 expand to 4 x width).
//
// Parameters: 25,557,032 (conv/linear weights, linear bias, batchnorm weight and bias;
// running statistics not counted).  Dense MACs: 4,089,184,256.
//
// Weight names are torchvision's state_dict keys with every `.<digits>` written
// `_<digits>` (identifiers cannot contain dots); `--weights` applies that rename
// (`s/\.([0-9]+)/_\1/g`) to a state_dict saved by PyTorch, so a torchvision checkpoint
// loads as saved:
//     conv1.weight                    -> conv1.weight
//     layer1.0.downsample.0.weight    -> layer1_0.downsample_0.weight
//     layer3.5.bn3.running_var        -> layer3_5.bn3.running_var
//     fc.bias                         -> fc.bias
// The stage blocks are `layer<stage>_<index>`: `layer1_0` is torchvision's `layer1[0]`.
//
// The structured version, with the same names, is `resnet50s.sc`.

// Bottleneck keeping the shape (4 * width channels in and out): 1x1 reduce to `width`,
// 3x3, 1x1 expand back, identity shortcut.
block bottleneck(x, width: int) {
    let conv1 = conv2d(x, width, kernel=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = conv2d(h1, width, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = conv2d(h2, 4 * width, kernel=1);
    let bn3 = batchnorm(conv3);
    return relu(bn3 + x);
}

// First Bottleneck of a stage: in_ch -> 4 * width channels, `stride` on the 3x3
// convolution and on the 1x1 projection shortcut (torchvision's `downsample[0]` and
// `downsample[1]`).
block down(x, in_ch: int, width: int, stride: int) {
    let conv1 = conv2d(x, width, kernel=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = conv2d(h1, width, kernel=3, stride=stride, pad=1);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = conv2d(h2, 4 * width, kernel=1);
    let bn3 = batchnorm(conv3);
    let downsample_0 = conv2d(x, 4 * width, kernel=1, stride=stride);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn3 + downsample_1);
}

model resnet50(image: [1, 3, 224, 224]) {
    // Stem: 7x7/2 convolution and 3x3/2 max pooling, 224 -> 112 -> 56.
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

    // Head: global average pooling and the 1000-way classifier.
    let pooled = flatten(global_avgpool(layer4_2));
    let fc = linear(pooled, 1000);
    return fc;
}
