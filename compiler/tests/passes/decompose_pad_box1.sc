// passes: decompose-structured
// Padding on an axis whose box is 1 wide stays with the conv:
// - tall: kernel (3, 1), n (2, 1), pad (1, 1): box (3, 2, 1); height pad to the pool,
//   width pad stays on the (2, 1) conv;
// - channels: kernel 3, n 3, c < C, pad 1: box (3, 1, 1); all padding stays on the conv;
// - spatial: c = C, kernel 3, n 2, pad 1: box (1, 2, 2); all padding goes to the pool.
model decompose_pad_box1(x: [1, 4, 6, 6]) {
    let tall = sconv2d(x, 8, kernel=(3, 1), n=(2, 1), pad=(1, 1), c=2);
    let channels = sconv2d(x, 8, kernel=3, n=3, pad=1, c=2);
    let spatial = sconv2d(x, 8, kernel=3, n=2, pad=1, c=4);
    return tall, channels, spatial;
}
