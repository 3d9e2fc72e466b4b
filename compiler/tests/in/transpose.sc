// `transpose` of run-time tensors: an explicit permutation (NCHW to NHWC and back), the
// default (axes reversed), a permutation computed from a block's integers, and rank 2.
block swap_spatial(x, h: int = 2) {
    return transpose(x, perm=[0, 1, h + 1, h]);
}

model transposes(x: [2, 3, 4, 5], v: [2, 6]) {
    let nhwc = transpose(x, perm=[0, 2, 3, 1]);
    let back = transpose(relu(nhwc), perm=[0, 3, 1, 2]);
    let reversed = transpose(x);
    let swapped = swap_spatial(back);
    let columns = transpose(v, perm=[1, 0]);
    return swapped, reversed, columns;
}
