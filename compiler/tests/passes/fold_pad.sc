// passes: fold-pad,dce
// Symmetric zero pads fold into the conv, structured conv and counting average pool reading
// them; an asymmetric pad, a non-zero pad, a max pool, an average pool not counting its
// padding, and a pool whose padding would exceed half its kernel keep theirs.
model fold_pad(x: [1, 4, 8, 8]) {
    let p1 = pad(x, top=1, left=1, bottom=1, right=1);
    let conv = conv2d(p1, 4, kernel=3, pad=1);
    let p2 = pad(conv, top=2, bottom=2);
    let sconv = sconv2d(p2, 4, kernel=3, c=2, n=2);
    let p3 = pad(sconv, top=1, left=1, bottom=1, right=1);
    let avg = avgpool(p3, kernel=3, stride=1);
    let uncounted = avgpool(p3, kernel=3, stride=1, count_include_pad=false);
    let peak = maxpool(p3, kernel=3, stride=1);
    let wide = avgpool(p3, kernel=2, stride=1, pad=1);
    let p4 = pad(x, bottom=1, right=1);
    let skew = conv2d(p4, 4, kernel=2);
    let p5 = pad(x, top=1, left=1, bottom=1, right=1, value=0.5);
    let valued = conv2d(p5, 4, kernel=3);
    return avg, uncounted, peak, wide, skew, valued;
}
