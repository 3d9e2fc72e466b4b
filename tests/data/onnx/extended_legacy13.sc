// Imported from `tests/data/onnx/extended_legacy13.onnx` by scc (ONNX IR 7, opset 13, produced by pytorch 2.15.0).
// Weights: the .safetensors file written beside this one, named <let>.<suffix>.
// ONNX names: `onnx::Sub_0` is `onnx_Sub_0`, `117` is `div_2`.

model extended_legacy13(onnx_Sub_0: [2, 3, 15, 15]) {
    let sub = affine(onnx_Sub_0); // Sub /Sub, Div /Div
    let mul = sub * 0.5; // Mul /Mul
    let sub_2 = mul - 0.25; // Sub /Sub_1
    let pad = pad(sub_2, bottom=1, right=1); // Pad /pad/Pad
    let stem = conv2d(pad, 4, kernel=3, stride=2, bias=true); // Conv /stem/Conv
    let leaky_relu = leaky_relu(stem, slope=0.1); // LeakyRelu /LeakyRelu
    let dw = conv2d(leaky_relu, 4, kernel=3, pad=1, groups=4, bias=true); // Conv /dw/Conv
    let clip = clamp(dw, min=-1.5, max=2.0); // Clip /Clip
    let mul_2 = affine(clip, bias=false); // Mul /Mul_1
    let add = mul_2 + 0.25; // Add /Add
    let max_pool = maxpool(add, kernel=2, ceil_mode=true); // MaxPool /MaxPool
    let average_pool = avgpool(add, kernel=3, stride=2, pad=1, count_include_pad=false); // AveragePool /AveragePool
    let average_pool_2 = avgpool(add, kernel=3, stride=2, pad=1); // AveragePool /AveragePool_1
    let sub_3 = max_pool - average_pool; // Sub /Sub_2
    let add_2 = sub_3 + average_pool_2; // Add /Add_1
    let mix = conv2d(add_2, 8, kernel=1, bias=true); // Conv /mix/Conv
    let leaky_relu_2 = leaky_relu(mix, slope=0.2); // LeakyRelu /LeakyRelu_1
    let deep = conv2d(leaky_relu_2, 8, kernel=3, pad=1, bias=true); // Conv /deep/Conv
    let sigmoid = sigmoid(leaky_relu_2); // Sigmoid /Sigmoid
    let add_3 = sigmoid + 1.0; // Add /Add_2
    let div = deep / add_3; // Div /Div_1
    let resize = upsample(div, size=(7, 7), mode="bilinear", align_corners=true); // Resize /Resize
    let clip_2 = clamp(div, min=0.1); // Clip /Clip_1
    let resize_2 = upsample(clip_2, size=(7, 7)); // Resize /Resize_1
    let concat = concat(resize, resize_2, add); // Concat /Concat_4
    let head = conv2d(concat, 3, kernel=1, bias=true); // Conv /head/Conv
    let div_2 = head / 3.0; // Div /Div_2
    return div_2;
}
