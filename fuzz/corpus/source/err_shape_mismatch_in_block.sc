block widen(x, ch: int) {
    let conv = conv2d(x, ch, kernel=3, pad=1);
    return conv + x;
}

model m(x: [1, 4, 8, 8]) {
    let b = widen(x, 8);
    return b;
}
