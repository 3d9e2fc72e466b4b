model m(x: [1, 8, 8, 8]) {
    let s = sconv2d(x, 8, kernel=3, c=4);
    return s;
}
