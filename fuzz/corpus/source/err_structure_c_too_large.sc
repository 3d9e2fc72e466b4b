model m(x: [1, 8, 8, 8]) {
    let s = sconv2d(x, 8, kernel=3, c=6, n=2, pad=1, groups=2);
    return s;
}
