block swap(x, axis: int) {
    return transpose(x, perm=[axis, 0]);
}

model m(x: [2, 6]) {
    let t = swap(x, 2);
    return t;
}
