model m(x: [1, 3, 8, 8]) {
    let a = upsample(x, scale=2, mode="bi\linear");
    return a;
}
