// The ops ONNX models need beyond the first language: general clamps, leaky ReLU, explicit
// padding, arithmetic with constants and of two tensors, per-channel affine maps, batchnorm
// with batch statistics, pools in ceil mode and without the padding counted, and upsampling
// to a size, by a fractional factor, nearest-exact and with align_corners.
model onnx_ops(x: [2, 3, 9, 9], v: [2, 4]) {
    let scaled = x * 2.0 - 1.0;
    let normalize = affine(scaled);
    let padded = pad(normalize, bottom=1, right=1);
    let stem = conv2d(padded, 8, kernel=3, stride=2);
    let stem_bn = batchnorm(stem, training=true);
    let act = leaky_relu(stem_bn, slope=0.1);
    let clipped = clamp(act, min=-1.5, max=2.0);
    let low = clamp(clipped, min=0.1);
    let scale = affine(low, bias=false);
    let a = maxpool(scale, kernel=2, stride=2, ceil_mode=true);
    let b = avgpool(scale, kernel=3, stride=2, pad=1, count_include_pad=false);
    let c = avgpool(scale, kernel=2, ceil_mode=true);
    let d = (a - b) / (1.0 + sigmoid(c));
    let up1 = upsample(d, size=(5, 5), mode="bilinear", align_corners=true);
    let up2 = upsample(d, scale=2.5, mode="bilinear");
    let up3 = upsample(d, size=(4, 5), mode="nearest-exact");
    let up4 = upsample(d, size=(5, 5));
    let head = 3.0 / (up1 + up2 + 4.0) - up4 / 2;
    let same = pad(up3, top=1, value=0.5);
    let features = affine(v);
    return head, same, features;
}
