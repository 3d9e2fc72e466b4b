// ResNet-18 (He et al., 2016), exactly torchvision's `resnet18()`: dense, ImageNet
// classifier, 224x224 RGB input, 1000 classes.
//
// Parameters: 11,689,512 (conv/linear weights, linear bias, batchnorm weight and bias;
// running statistics not counted).  Dense MACs: 1,814,073,344.
//
// Weight names are torchvision's state_dict keys with every `.<digits>` written
// `_<digits>` (identifiers cannot contain dots); `--weights` applies that rename
// (`s/\.([0-9]+)/_\1/g`) to a state_dict saved by PyTorch, so a torchvision checkpoint
// loads as saved:
//     conv1.weight                    -> conv1.weight
//     layer2.0.downsample.0.weight    -> layer2_0.downsample_0.weight
//     layer4.1.bn2.running_var        -> layer4_1.bn2.running_var
//     fc.bias                         -> fc.bias
// The stage blocks are `layer<stage>_<index>`: `layer1_0` is torchvision's `layer1[0]`.
//
// The structured version, with the same names, is `resnet18s.sc`.

// BasicBlock keeping the shape: two 3x3 convolutions and an identity shortcut.
block basic(x, ch: int) {
    let conv1 = conv2d(x, ch, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = conv2d(h, ch, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

// First BasicBlock of stages 2-4: halves the resolution and doubles the channels
// (input has ch / 2 channels). The shortcut is a 1x1 stride-2 convolution + batchnorm
// (torchvision's `downsample[0]` and `downsample[1]`).
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

model resnet18(image: [1, 3, 224, 224]) {
    // Stem: 7x7/2 convolution and 3x3/2 max pooling, 224 -> 112 -> 56.
    let conv1 = conv2d(image, 64, kernel=7, stride=2, pad=3);
    let bn1 = batchnorm(conv1);
    let stem = relu(bn1);
    let stem_pool = maxpool(stem, kernel=3, stride=2, pad=1);

    // Stage 1: 64 channels, 56x56.
    let layer1_0 = basic(stem_pool, 64);
    let layer1_1 = basic(layer1_0, 64);

    // Stage 2: 128 channels, 28x28.
    let layer2_0 = down(layer1_1, 128);
    let layer2_1 = basic(layer2_0, 128);

    // Stage 3: 256 channels, 14x14.
    let layer3_0 = down(layer2_1, 256);
    let layer3_1 = basic(layer3_0, 256);

    // Stage 4: 512 channels, 7x7.
    let layer4_0 = down(layer3_1, 512);
    let layer4_1 = basic(layer4_0, 512);

    // Head: global average pooling and the 1000-way classifier.
    let pooled = flatten(global_avgpool(layer4_1));
    let fc = linear(pooled, 1000);
    return fc;
}
