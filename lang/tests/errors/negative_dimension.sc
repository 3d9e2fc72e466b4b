model m(x: [1, -3, 8, 8]) {
    return x;
}
