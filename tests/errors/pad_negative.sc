model m(x: [1, 3, 8, 8]) {
    let p = pad(x, top=1, bottom=-1);
    return p;
}
