// A block returning two tensors at two resolutions (as an HRNet module does), its
// results picked with `[i]`; the weights of both sit under the instance's `let` name.
block exchange(high, low, ch: int) {
    let down = conv2d(high, ch, kernel=3, stride=2, pad=1);
    let up = conv2d(low, ch, kernel=1);
    return relu(high + upsample(up, 2)), relu(low + down);
}

model two_resolutions(x: [1, 4, 8, 8]) {
    let stem = conv2d(x, 4, kernel=3, stride=2, pad=1);
    let stage = exchange(x, stem, 4);
    let merged = stage[0] + upsample(stage[1], 2);
    return merged, stage[1];
}
