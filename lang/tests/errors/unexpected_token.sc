model m(x: [1, 3, 8, 8]) {
    let a = conv2d(x, 16 kernel=3);
    return a;
}
