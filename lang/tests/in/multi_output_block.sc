// A block returning several tensors (an extension of the contract), indexed with `[i]`.
block two_branches(x, y, ch: int) {
    let a = conv2d(x, ch, kernel=3, pad=1);
    let b = conv2d(y, ch, kernel=1);
    return relu(a) + upsample(b, 2), b;
}

model uses_branches(x: [1, 4, 8, 8], y: [1, 4, 4, 4]) {
    let stage = two_branches(x, y, 4);
    let high = stage[0];
    return high, stage[2 - 1];
}
