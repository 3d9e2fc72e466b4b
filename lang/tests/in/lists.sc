// Lists of integer expressions as argument values (`transpose`'s `perm`).
block swap(x, last: int = 3) {
    return transpose(x, perm=[0, last - 1, last, 1]);
}

model lists(image: [2, 3, 4, 5], features: [2, 6]) {
    let nhwc = swap(image);
    let reversed = transpose(image);
    let empty_ok = f(x, [], [1,], [ 2 , 3 ]);
    let t = transpose(features, perm=[1, 0]);
    return nhwc, reversed, t;
}
