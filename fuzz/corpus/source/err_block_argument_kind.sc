block scale(x, ch: int) {
    let conv = conv2d(x, ch, kernel=1);
    return conv;
}

model m(x: [1, 3, 8, 8]) {
    let y = scale(x, x);
    return y;
}
