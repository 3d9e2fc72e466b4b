model m(x: [1, 3, 8, 8]) {
    let a = rleu(x);
    return a;
}
