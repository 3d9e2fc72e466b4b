model m(x: [1, 3, 8, 8]) {
    let y = relu(affine(x));
    return y;
}
