// Imported from `tests/data/onnx/ops_legacy.onnx` by scc (ONNX IR 8, opset 17, produced by pytorch 2.15.0).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.
// ONNX names: `input.1` is `input_1`, `61` is `softmax`.

model ops_legacy(input_1: [2, 3, 16, 16]) {
    let stem = conv2d(input_1, 8, kernel=3, pad=1, bias=true); // Conv /stem/Conv
    let relu = relu(stem); // Relu /Relu
    let dw = conv2d(relu, 8, kernel=3, pad=2, dilation=2, groups=8); // Conv /dw/Conv
    let hard_swish = hardswish(dw); // HardSwish /HardSwish
    let global_average_pool = global_avgpool(hard_swish); // GlobalAveragePool /GlobalAveragePool
    let se_reduce = conv2d(global_average_pool, 4, kernel=1, bias=true); // Conv /se_reduce/Conv
    let relu_2 = relu(se_reduce); // Relu /Relu_1
    let se_expand = conv2d(relu_2, 8, kernel=1, bias=true); // Conv /se_expand/Conv
    let hard_sigmoid = hardsigmoid(se_expand); // HardSigmoid /HardSigmoid
    let mul = hard_swish * hard_sigmoid; // Mul /Mul
    let down = conv2d(mul, 8, kernel=3, stride=2, pad=1, bias=true); // Conv /down/Conv
    let clip = relu6(down); // Clip /Clip
    let mul_2 = silu(clip); // Mul /Mul_1
    let resize = upsample(mul_2, scale=2); // Resize /Resize
    let concat = concat(mul, resize); // Concat /Concat
    let mix_bn = batchnorm(concat); // BatchNormalization /mix_bn/BatchNormalization
    let resize_2 = upsample(mix_bn, scale=2, mode="bilinear"); // Resize /Resize_1
    let tanh = tanh(resize_2); // Tanh /Tanh
    let max_pool = maxpool(tanh, kernel=3, stride=2, pad=1); // MaxPool /MaxPool
    let head = conv2d(max_pool, 12, kernel=1); // Conv /head/Conv
    let average_pool = avgpool(head, kernel=2); // AveragePool /AveragePool
    let global_average_pool_2 = global_avgpool(average_pool); // GlobalAveragePool /GlobalAveragePool_1
    let flatten = flatten(global_average_pool_2); // Flatten /Flatten
    let fc = linear(flatten, 5); // Gemm /fc/Gemm
    let softmax = softmax(fc); // Softmax /Softmax
    return softmax;
}
