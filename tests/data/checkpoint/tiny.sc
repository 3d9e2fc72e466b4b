// The network of make.py, with the examples' weight naming: PyTorch's `features.0.0.weight`
// is `features_0_0.weight`, `layer1.0.downsample.1.running_var` is
// `layer1_0.downsample_1.running_var`.
block down(x, ch: int) {
    let conv1 = conv2d(x, ch, kernel=3, stride=2, pad=1);
    let bn1 = batchnorm(conv1);
    let conv2 = conv2d(relu(bn1), ch, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    let downsample_0 = conv2d(x, ch, kernel=1, stride=2);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn2 + downsample_1);
}

model tiny(x: [2, 3, 8, 8]) {
    let features_0_0 = conv2d(x, 8, kernel=3, pad=1);
    let features_0_1 = batchnorm(features_0_0);
    let layer1_0 = down(relu(features_0_1), 16);
    let fc = linear(flatten(global_avgpool(layer1_0)), 5);
    return fc;
}
