model m(image: [1, 3, 8, 8]) {
    let a = relu(imag);
    return a;
}
