// A small CNN for scikit-learn's 8x8 digits, with two structured convolutions
// (Bhalgat et al. 2020). Trained by train.py; N = 360 is the size of the held-out test split.
model digits(images: [360, 1, 8, 8]) {
    let conv1 = conv2d(images, 16, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let conv2 = sconv2d(relu(bn1), 32, kernel=3, pad=1, c=8, n=2);
    let bn2 = batchnorm(conv2);
    let pool = maxpool(relu(bn2), 2);
    let conv3 = sconv2d(pool, 32, kernel=3, pad=1, c=16, n=2);
    let bn3 = batchnorm(conv3);
    let fc = linear(flatten(global_avgpool(relu(bn3))), 10);
    return fc;
}
