model m(x: [2, 3, 4, 5]) {
    let t = transpose(x, perm=(0, 1));
    return t;
}
