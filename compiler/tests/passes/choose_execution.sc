// passes: choose-execution, decompose-structured
// tier: avx512
// An inverted residual block as in MobileNetV2s: the 1×1 expansion fuses its channel
// sum-pool; the 1×1 projection to few channels runs composed (the channel pass over its 192
// inputs costs about what halving its MACs saves), as does the 3×3 depthwise layer (one pass
// over memory); a ResNet-style 3×3 layer stays decomposed (4.5× fewer MACs).
model m(x: [1, 32, 28, 28]) {
    let e = sconv2d(x, 192, kernel=1, c=16, n=1);
    let d = sconv2d(relu6(e), 192, kernel=3, pad=1, groups=192, c=1, n=2);
    let p = sconv2d(relu6(d), 32, kernel=1, c=96, n=1);
    let r = sconv2d(p + x, 64, kernel=3, pad=1, c=16, n=2);
    return r;
}
