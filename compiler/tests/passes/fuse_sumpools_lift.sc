// passes: fuse-sumpools
// The language's sumpool becomes a sumpool3d with channel window 1 (stride and pad kept).
model fuse_sumpools_lift(x: [1, 4, 8, 8]) {
    let s = sumpool(x, 3, pad=1);
    let t = sumpool(x, (2, 3), stride=2);
    return s, t;
}
