model m(x: [1, 3, 8, 8]) {
    let a = relu(conv2d(x, 8, kernel=3));
    return a;
}
