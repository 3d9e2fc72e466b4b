model m(x: [1, 3, 8, 8]) {
    let a = batchnorm(x, eps=1e400);
    return a;
}
