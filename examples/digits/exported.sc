// Exported from PyTorch (Digits) by scc.torch.export.
model digits(images: [360, 1, 8, 8]) {
    let conv1 = conv2d(images, 16, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let relu = relu(bn1);
    let conv2 = sconv2d(relu, 32, kernel=3, c=8, n=2, pad=1);
    let bn2 = batchnorm(conv2);
    let relu_1 = relu(bn2);
    let max_pool2d = maxpool(relu_1, kernel=2);
    let conv3 = sconv2d(max_pool2d, 32, kernel=3, c=16, n=2, pad=1);
    let bn3 = batchnorm(conv3);
    let relu_2 = relu(bn3);
    let adaptive_avg_pool2d = global_avgpool(relu_2);
    let flatten = flatten(adaptive_avg_pool2d);
    let fc = linear(flatten, 10);
    return fc;
}
