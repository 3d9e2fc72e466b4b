// Imported from `tests/data/onnx/permute_dynamo.onnx` by scc (ONNX IR 10, opset 18, produced by pytorch 2.15.0+cu132).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.
// ONNX names: `linear` is `fc`.

model permute_dynamo(x: [2, 3, 6, 7]) {
    let stem = conv2d(x, 8, kernel=3, pad=1, bias=true); // Conv node_conv2d
    let permute = transpose(stem, perm=[0, 2, 3, 1]); // Transpose node_permute
    let relu = relu(permute); // Relu node_relu
    let permute_1 = transpose(relu, perm=[0, 3, 1, 2]); // Transpose node_permute_1
    let mix = conv2d(permute_1, 8, kernel=3, pad=1, bias=true); // Conv node_conv2d_1
    let transpose = transpose(mix, perm=[0, 1, 3, 2]); // Transpose node_transpose
    let sigmoid = sigmoid(transpose); // Sigmoid node_sigmoid
    let head = conv2d(sigmoid, 4, kernel=1, bias=true); // Conv node_conv2d_2
    let mean = global_avgpool(head); // ReduceMean node_mean
    let view = flatten(mean); // Reshape node_view
    let t = transpose(view, perm=[1, 0]); // Transpose node_t
    let fc = linear(t, 5); // Gemm node_linear
    return fc;
}
