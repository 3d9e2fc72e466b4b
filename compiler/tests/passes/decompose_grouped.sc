// passes: decompose-structured
// Grouped (2 groups of 4 channels, c=2: box (3, 2, 2) within each group, 2 channels out
// per group) and depthwise (8 groups of 1 channel, c=1: box (1, 2, 2)) structured convs.
model decompose_grouped(x: [1, 8, 8, 8]) {
    let grouped = sconv2d(x, 8, kernel=3, pad=1, groups=2, c=2, n=2);
    let depthwise = sconv2d(x, 8, kernel=3, pad=1, groups=8, c=1, n=2);
    return grouped, depthwise;
}
