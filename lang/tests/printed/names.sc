block model_block(block_in, int8: int, letter: int = 3) {
    let returns = relu(block_in);
    let _private = returns;
    let model2 = _private + block_in;
    let true_value = model2 * model2;
    let let_ = true_value;
    let x9_Y = conv2d(let_, int8 + letter, kernel=1);
    return x9_Y;
}

model Model_(INPUT: [1, 2, 3, 4]) {
    let falsey = model_block(INPUT, 8);
    return falsey;
}
