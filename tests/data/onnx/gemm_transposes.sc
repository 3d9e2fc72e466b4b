// Imported from `tests/data/onnx/gemm_transposes.onnx` by scc (ONNX IR 8, opset 17, produced by onnx.helper (make_transpose.py) ).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.

model gemm_transposes(x: [6, 2]) {
    let x_rows = transpose(x, perm=[1, 0]); // Transpose rows
    let x_transposed = transpose(x, perm=[1, 0]); // Gemm gemm_ta_tb0 (transA=1)
    let ta_tb0 = linear(x_transposed, 3); // Gemm gemm_ta_tb0
    let x_transposed_2 = transpose(x, perm=[1, 0]); // Gemm gemm_ta_tb1 (transA=1)
    let ta_tb1 = linear(x_transposed_2, 4, bias=false); // Gemm gemm_ta_tb1
    let tb1 = linear(x_rows, 5); // Gemm gemm_tb1
    let plain = linear(x_rows, 6); // Gemm gemm_plain
    let joined = concat(ta_tb0, ta_tb1, tb1, plain); // Concat join
    let y = relu(joined); // Relu act
    return y;
}
