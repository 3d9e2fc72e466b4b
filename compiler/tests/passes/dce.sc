// passes: dce
// An unused let (and what only it reads) disappears; an unused input stays.
model dce(x: [1, 4, 6, 6], unused_input: [1, 2]) {
    let dead_conv = conv2d(x, 4, kernel=3, pad=1);
    let dead_relu = relu(dead_conv);
    let live = relu(x);
    let dead_too = sigmoid(live);
    return live;
}
