// passes: decompose-structured,cse,fuse-sumpools,dce
// Two structured convs with the same box (5, 2, 2) and pad over the same tensor share
// one pool (cse merges the pools; the convs differ by their weights and stay).
model fuse_sumpools_identical(x: [1, 8, 8, 8]) {
    let a = sconv2d(x, 16, kernel=3, pad=1, c=4, n=2);
    let b = sconv2d(x, 8, kernel=3, pad=1, c=4, n=2);
    return a, b;
}
