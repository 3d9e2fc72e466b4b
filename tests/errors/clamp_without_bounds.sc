model m(x: [1, 3, 8, 8]) {
    let c = clamp(x);
    return c;
}
