// Imported from `tests/data/onnx/extended_dynamo.onnx` by scc (ONNX IR 10, opset 18, produced by pytorch 2.15.0+cu132).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.

model extended_dynamo(x: [2, 3, 15, 15]) {
    let sub = affine(x); // Sub node_sub, Div node_div
    let mul = sub * 0.5; // Mul node_mul
    let sub_1 = mul - 0.25; // Sub node_sub_1
    let stem_pad = pad(sub_1, bottom=1, right=1); // Conv node_Conv_33 (its asymmetric padding)
    let stem = conv2d(stem_pad, 4, kernel=3, stride=2, bias=true); // Conv node_Conv_33
    let leaky_relu = leaky_relu(stem, slope=0.1); // LeakyRelu node_leaky_relu
    let dw = conv2d(leaky_relu, 4, kernel=3, pad=1, groups=4, bias=true); // Conv node_conv2d_1
    let clamp = clamp(dw, min=-1.5, max=2.0); // Clip node_clamp
    let mul_1 = affine(clamp, bias=false); // Mul node_mul_1
    let add = mul_1 + 0.25; // Add node_add
    let max_pool2d = maxpool(add, kernel=2, ceil_mode=true); // MaxPool node_max_pool2d
    let avg_pool2d = avgpool(add, kernel=3, stride=2, pad=1, count_include_pad=false); // AveragePool node_avg_pool2d
    let avg_pool2d_1 = avgpool(add, kernel=3, stride=2, pad=1); // AveragePool node_avg_pool2d_1
    let sub_2 = max_pool2d - avg_pool2d; // Sub node_sub_2
    let add_1 = sub_2 + avg_pool2d_1; // Add node_add_1
    let mix = conv2d(add_1, 8, kernel=1, bias=true); // Conv node_conv2d_2
    let leaky_relu_1 = leaky_relu(mix, slope=0.2); // LeakyRelu node_leaky_relu_1
    let deep = conv2d(leaky_relu_1, 8, kernel=3, pad=1, bias=true); // Conv node_conv2d_3
    let sigmoid = sigmoid(leaky_relu_1); // Sigmoid node_sigmoid
    let add_2 = sigmoid + 1.0; // Add node_add_2
    let div_1 = deep / add_2; // Div node_div_1
    let upsample_bilinear2d = upsample(div_1, size=(7, 7), mode="bilinear", align_corners=true); // Resize node_upsample_bilinear2d
    let clamp_1 = clamp(div_1, min=0.1); // Clip node_clamp_1
    let upsample_nearest2d = upsample(clamp_1, size=(7, 7)); // Resize node_upsample_nearest2d
    let cat = concat(upsample_bilinear2d, upsample_nearest2d, add); // Concat node_cat
    let head = conv2d(cat, 3, kernel=1, bias=true); // Conv node_conv2d_4
    let div_2 = head / 3.0; // Div node_div_2
    return div_2;
}
