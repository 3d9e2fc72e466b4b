model m(x: [1, 3, 8, 8]) {
    let up = upsample(x, scale=2, size=(16, 16));
    return up;
}
