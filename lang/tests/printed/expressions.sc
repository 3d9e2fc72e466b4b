block arith(x, a: int, b: int = -2, c: int = (1 + 2) * 3) {
    let sum = a + b * c - a / b;
    let left = a - b - c;
    let grouped = (a - (b - c)) / 2;
    let neg = -a * -(b + 1) - -3;
    let conv = conv2d(x, a * 2, kernel=(3, 1 + 2), stride=(1, b), pad=(a / 2, 0));
    let bn = batchnorm(conv, eps=1e-5);
    let bn2 = batchnorm(bn, eps=0.001);
    let big = batchnorm(bn2, eps=1500.0);
    let up = upsample(big, scale=2, mode="bilinear");
    let lin = conv2d(up, 4, kernel=1, bias=true, groups=1);
    let other = conv2d(lin, 4, kernel=1, bias=false);
    return other * sigmoid(other) + x;
}

model uses_arith(x: [1, 4, 8, 8]) {
    let y = arith(x, 4, c=1);
    return y;
}
