// Imported from `tests/data/onnx/ops_dynamo.onnx` by scc (ONNX IR 10, opset 18, produced by pytorch 2.15.0+cu132).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.

model ops_dynamo(x: [2, 3, 16, 16]) {
    let stem = conv2d(x, 8, kernel=3, pad=1, bias=true); // Conv node_Conv_49
    let relu = relu(stem); // Relu node_relu
    let dw = conv2d(relu, 8, kernel=3, pad=2, dilation=2, groups=8); // Conv node_Conv_50
    let hardswish = hardswish(dw); // HardSwish n0
    let mean = global_avgpool(hardswish); // ReduceMean node_mean
    let se_reduce = conv2d(mean, 4, kernel=1, bias=true); // Conv node_conv2d_2
    let relu_1 = relu(se_reduce); // Relu node_relu_1
    let se_expand = conv2d(relu_1, 8, kernel=1, bias=true); // Conv node_conv2d_3
    let hardsigmoid = hardsigmoid(se_expand); // HardSigmoid node_hardsigmoid
    let mul = hardswish * hardsigmoid; // Mul node_mul
    let down = conv2d(mul, 8, kernel=3, stride=2, pad=1, bias=true); // Conv node_conv2d_4
    let relu6 = relu6(down); // Clip node_relu6
    let silu = silu(relu6); // Mul node_silu
    let upsample_nearest2d = upsample(silu, scale=2); // Resize node_upsample_nearest2d
    let cat = concat(mul, upsample_nearest2d); // Concat node_cat
    let mix_bn = batchnorm(cat); // BatchNormalization node__native_batch_norm_legit_no_training_1__0
    let upsample_bilinear2d = upsample(mix_bn, scale=2, mode="bilinear"); // Resize node_upsample_bilinear2d
    let tanh = tanh(upsample_bilinear2d); // Tanh node_tanh
    let max_pool2d = maxpool(tanh, kernel=3, stride=2, pad=1); // MaxPool node_max_pool2d
    let head = conv2d(max_pool2d, 12, kernel=1); // Conv node_Conv_51
    let avg_pool2d = avgpool(head, kernel=2); // AveragePool node_avg_pool2d
    let mean_1 = global_avgpool(avg_pool2d); // ReduceMean node_mean_1
    let view = flatten(mean_1); // Reshape node_view
    let fc = linear(view, 5); // Gemm node_linear
    let softmax = softmax(fc); // Softmax node_softmax
    return softmax;
}
