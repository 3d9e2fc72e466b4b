model commented(x: [1, 3, 4, 4]) {
    let a = relu(x);
    let b = relu(a);
    let c = concat(a, b);
    let d = upsample(c, scale=2, mode="nearest // not a comment /* nor this */");
    return d;
}
