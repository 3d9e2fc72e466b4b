// passes: fuse-epilogue
// Activation chains fuse in order (relu6 then sigmoid); the residual operand may be the
// left one (x + conv); a linear fuses too. Not fused: a conv that is a model output, a
// conv read twice (by itself on both sides of +), a conv followed by a broadcast add
// ([N, C, 1, 1] operand), and the maxpool between a conv and its relu.
model fuse_epilogue_chains(x: [1, 4, 6, 6], s: [1, 4, 1, 1]) {
    let chain = conv2d(x, 4, kernel=3, pad=1, bias=true);
    let a = sigmoid(relu6(chain));
    let left = conv2d(a, 4, kernel=1);
    let b = tanh(x + left);
    let exposed = conv2d(b, 4, kernel=1);
    let c = relu(exposed);
    let twice = conv2d(c, 4, kernel=1);
    let d = twice + twice;
    let broadcast = conv2d(d, 4, kernel=1);
    let e = broadcast + s;
    let pooled_conv = conv2d(e, 4, kernel=1);
    let f = relu(maxpool(pooled_conv, 2));
    let fc = linear(flatten(global_avgpool(f)), 3);
    let g = hardswish(fc);
    return exposed, g;
}
