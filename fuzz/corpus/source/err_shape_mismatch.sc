model m(x: [1, 3, 8, 8]) {
    let conv = conv2d(x, 8, kernel=3, stride=2, pad=1);
    let sum = conv + x;
    return sum;
}
