// Imported from `tests/data/onnx/permute_legacy.onnx` by scc (ONNX IR 8, opset 17, produced by pytorch 2.15.0).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.
// ONNX names: `input.1` is `input_1`, `19` is `fc`.

model permute_legacy(input_1: [2, 3, 6, 7]) {
    let stem = conv2d(input_1, 8, kernel=3, pad=1, bias=true); // Conv /stem/Conv
    let transpose = transpose(stem, perm=[0, 2, 3, 1]); // Transpose /Transpose
    let relu = relu(transpose); // Relu /Relu
    let transpose_2 = transpose(relu, perm=[0, 3, 1, 2]); // Transpose /Transpose_1
    let mix = conv2d(transpose_2, 8, kernel=3, pad=1, bias=true); // Conv /mix/Conv
    let transpose_3 = transpose(mix, perm=[0, 1, 3, 2]); // Transpose /Transpose_2
    let sigmoid = sigmoid(transpose_3); // Sigmoid /Sigmoid
    let head = conv2d(sigmoid, 4, kernel=1, bias=true); // Conv /head/Conv
    let global_average_pool = global_avgpool(head); // GlobalAveragePool /GlobalAveragePool
    let flatten = flatten(global_average_pool); // Flatten /Flatten
    let flatten_transposed = transpose(flatten, perm=[1, 0]); // Gemm /fc/Gemm (transA=1)
    let fc = linear(flatten_transposed, 5); // Gemm /fc/Gemm
    return fc;
}
