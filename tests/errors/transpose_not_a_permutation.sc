model m(x: [2, 3, 4, 5]) {
    let t = transpose(x, perm=[0, 2, 3, 2]);
    return t;
}
