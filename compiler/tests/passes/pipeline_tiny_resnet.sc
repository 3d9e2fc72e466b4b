// passes: decompose-structured,fold-batchnorm,fuse-epilogue,cse,fuse-sumpools,dce,select-sumpool-algorithm,fold-constants
// weights: random
// A small complete structured ResNet for 32x32 images, batch 2, two outputs.
block basic(x, ch: int, stride: int = 1) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=stride, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

block down(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=2, pad=1, c=ch / 4, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    let short = conv2d(x, ch, kernel=1, stride=2);
    let short_bn = batchnorm(short);
    return relu(bn2 + short_bn);
}

model tiny_resnet(image: [2, 3, 32, 32]) {
    let stem = conv2d(image, 16, kernel=3, pad=1);
    let stem_bn = batchnorm(stem);
    let h0 = relu(stem_bn);
    let layer1 = basic(h0, 16);
    let layer2 = down(layer1, 32);
    let layer3 = basic(layer2, 32);
    let features = flatten(global_avgpool(layer3));
    let fc = linear(features, 10);
    return fc, features;
}
