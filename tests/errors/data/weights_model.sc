model m(x: [1, 3, 8, 8]) {
    let conv = conv2d(x, 4, kernel=3, pad=1);
    let bn = batchnorm(conv);
    return bn;
}
