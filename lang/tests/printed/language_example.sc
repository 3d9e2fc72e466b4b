block basic(x, ch: int, stride: int = 1) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=stride, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

model tiny(image: [1, 3, 32, 32]) {
    let stem = conv2d(image, 16, kernel=3, pad=1);
    let stem_bn = batchnorm(stem);
    let h0 = relu(stem_bn);
    let layer1 = basic(h0, 16);
    let layer2 = basic(layer1, 16);
    let pooled = flatten(global_avgpool(layer2));
    let fc = linear(pooled, 10);
    return fc;
}
