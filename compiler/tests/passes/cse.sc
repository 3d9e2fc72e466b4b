// passes: cse
// The same relu(x) twice is one node; so is maxpool(x, 2) twice. Two convs with the same
// attributes reading the same tensor are NOT merged: each `let` names its own weights.
// Two inputs of the same shape are never merged.
model cse(x: [1, 4, 6, 6], y: [1, 4, 6, 6]) {
    let r1 = relu(x);
    let r2 = relu(x);
    let p1 = maxpool(r1, 2);
    let p2 = maxpool(r2, 2);
    let c1 = conv2d(x, 4, kernel=3, pad=1);
    let c2 = conv2d(x, 4, kernel=3, pad=1);
    let sum = r1 + r2;
    return p1 + p2, c1 + c2, sum + y, relu(y);
}
