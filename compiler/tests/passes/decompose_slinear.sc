// passes: decompose-structured
// slinear with c < F: a feature sum-pool of window F-c+1 = 13 then a linear over c=4
// features; with c = F: just a linear, no pool.
model decompose_slinear(x: [2, 16]) {
    let narrow = slinear(x, 10, c=4);
    let full = slinear(x, 10, c=16, bias=false);
    return narrow, full;
}
