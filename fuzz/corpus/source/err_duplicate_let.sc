model m(x: [1, 3, 8, 8]) {
    let a = relu(x);
    let a = sigmoid(x);
    return a;
}
