model m(x: [1, 3, 8, 8]) {
    let conv = conv2d(x, 8, kernel="3");
    return conv;
}
