block forever(x) {
    let y = forever(x);
    return y;
}

model m(x: [1, 3, 8, 8]) {
    let y = forever(x);
    return y;
}
