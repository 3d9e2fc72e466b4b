model m(x: [1, 4, 8, 8]) {
    let s = sconv2d(x, 4, kernel=3, c=2, n=2, pad=1);
    return s;
}
