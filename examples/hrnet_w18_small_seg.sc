// HRNetV2 semantic segmentation (Wang et al., 2019) on the stem and four stages of timm's
// `hrnet_w18_small` (see `hrnet_w18_small.sc`): dense, a 512x1024 RGB input (Cityscapes'
// aspect), logits of the 19 Cityscapes classes at the input size, [1, 19, 512, 1024]. The
// head (HRNet-Semantic-Segmentation's HRNetV2 `last_layer`): the branches at 1/8, 1/16 and
// 1/32 upsampled bilinearly (align_corners = false) to the 1/4 branch's size and
// concatenated with it (16 + 32 + 64 + 128 = 240 channels: timm's `hrnet_w18_small`
// branches; HRNet-W18's and `hrnet_w18_small_v2`'s 18, 36, 72, 144 would give 270), a 1x1
// convolution 240 -> 240 (with bias) + batchnorm + ReLU, a 1x1 convolution 240 -> 19 (with
// bias), and a x4 bilinear upsampling. The reference PyTorch module is
// `HRNetV2Segmentation` in `examples/zoo/models.py` (timm's HighResolutionNet plus that
// head). The input's height and width must be multiples of 32, as for timm's stages (their
// fuse layers upsample by exact powers of two).
//
// Parameters: 1,540,819 (conv weights and biases, batchnorm weight and bias; running
// statistics not counted).  Dense MACs: 8,347,713,536.
//
// Weight names are the reference's state_dict keys with every `.<digits>` written
// `_<digits>`: timm's for the stem and stages (`stage4.0.fuse_layers.3.0.2.1.weight` ->
// `stage4_0.fuse_layers_3_0_2_1.weight`), and `last_layer.0` / `.1` / `.3` for the head's
// convolution, batchnorm and classifier (`last_layer.3.bias` -> `last_layer_3.bias`).
//
// The structured version, with the same names, is `hrnet_w18_small_seg_s.sc`.

// BasicBlock (timm's resnet.BasicBlock), keeping the shape: two 3x3 convolutions and an
// identity shortcut.
block basic(x, ch: int) {
    let conv1 = conv2d(x, ch, kernel=3, pad=1);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = conv2d(h, ch, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

// Bottleneck (timm's resnet.Bottleneck) from in_ch to 4 * width channels with a 1x1
// projection shortcut (`downsample_0`, `downsample_1`).
block bottleneck(x, in_ch: int, width: int) {
    let conv1 = conv2d(x, width, kernel=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = conv2d(h1, width, kernel=3, pad=1);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = conv2d(h2, 4 * width, kernel=1);
    let bn3 = batchnorm(conv3);
    let downsample_0 = conv2d(x, 4 * width, kernel=1);
    let downsample_1 = batchnorm(downsample_0);
    return relu(bn3 + downsample_1);
}

// One HighResolutionModule (timm's hrnet.HighResolutionModule) per branch count: each
// branch runs two BasicBlocks, then every output i sums all branches brought to branch i's
// resolution and width (a higher-resolution branch j < i through i - j stride-2 3x3
// convolutions, the last without ReLU; a lower one through a 1x1 convolution and nearest
// upsampling by 2^(j - i)) and applies ReLU. The block returns all its outputs:
// `stage3_0[1]` is output 1.
block module2(x0, x1, c0: int, c1: int) {
    // Branches: two BasicBlocks each, at their own resolution.
    let branches_0_0 = basic(x0, c0);
    let branches_0_1 = basic(branches_0_0, c0);
    let branches_1_0 = basic(x1, c1);
    let branches_1_1 = basic(branches_1_0, c1);

    // Fused output 0 (c0 channels at the resolution of branch 0).
    let fuse_layers_0_1_0 = conv2d(branches_1_1, c0, kernel=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fused_0 = relu(branches_0_1 + upsample(fuse_layers_0_1_1, 2));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = conv2d(branches_0_1, c1, kernel=3, stride=2, pad=1);
    let fuse_layers_1_0_0_1 = batchnorm(fuse_layers_1_0_0_0);
    let fused_1 = relu(fuse_layers_1_0_0_1 + branches_1_1);
    return fused_0, fused_1;
}

block module3(x0, x1, x2, c0: int, c1: int, c2: int) {
    // Branches: two BasicBlocks each, at their own resolution.
    let branches_0_0 = basic(x0, c0);
    let branches_0_1 = basic(branches_0_0, c0);
    let branches_1_0 = basic(x1, c1);
    let branches_1_1 = basic(branches_1_0, c1);
    let branches_2_0 = basic(x2, c2);
    let branches_2_1 = basic(branches_2_0, c2);

    // Fused output 0 (c0 channels at the resolution of branch 0).
    let fuse_layers_0_1_0 = conv2d(branches_1_1, c0, kernel=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fuse_layers_0_2_0 = conv2d(branches_2_1, c0, kernel=1);
    let fuse_layers_0_2_1 = batchnorm(fuse_layers_0_2_0);
    let fused_0 = relu(branches_0_1
                       + upsample(fuse_layers_0_1_1, 2)
                       + upsample(fuse_layers_0_2_1, 4));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = conv2d(branches_0_1, c1, kernel=3, stride=2, pad=1);
    let fuse_layers_1_0_0_1 = batchnorm(fuse_layers_1_0_0_0);
    let fuse_layers_1_2_0 = conv2d(branches_2_1, c1, kernel=1);
    let fuse_layers_1_2_1 = batchnorm(fuse_layers_1_2_0);
    let fused_1 = relu(fuse_layers_1_0_0_1 + branches_1_1 + upsample(fuse_layers_1_2_1, 2));

    // Fused output 2 (c2 channels at the resolution of branch 2).
    let fuse_layers_2_0_0_0 = conv2d(branches_0_1, c0, kernel=3, stride=2, pad=1);
    let fuse_layers_2_0_0_1 = batchnorm(fuse_layers_2_0_0_0);
    let down_2_0_0 = relu(fuse_layers_2_0_0_1);
    let fuse_layers_2_0_1_0 = conv2d(down_2_0_0, c2, kernel=3, stride=2, pad=1);
    let fuse_layers_2_0_1_1 = batchnorm(fuse_layers_2_0_1_0);
    let fuse_layers_2_1_0_0 = conv2d(branches_1_1, c2, kernel=3, stride=2, pad=1);
    let fuse_layers_2_1_0_1 = batchnorm(fuse_layers_2_1_0_0);
    let fused_2 = relu(fuse_layers_2_0_1_1 + fuse_layers_2_1_0_1 + branches_2_1);
    return fused_0, fused_1, fused_2;
}

block module4(x0, x1, x2, x3, c0: int, c1: int, c2: int, c3: int) {
    // Branches: two BasicBlocks each, at their own resolution.
    let branches_0_0 = basic(x0, c0);
    let branches_0_1 = basic(branches_0_0, c0);
    let branches_1_0 = basic(x1, c1);
    let branches_1_1 = basic(branches_1_0, c1);
    let branches_2_0 = basic(x2, c2);
    let branches_2_1 = basic(branches_2_0, c2);
    let branches_3_0 = basic(x3, c3);
    let branches_3_1 = basic(branches_3_0, c3);

    // Fused output 0 (c0 channels at the resolution of branch 0).
    let fuse_layers_0_1_0 = conv2d(branches_1_1, c0, kernel=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fuse_layers_0_2_0 = conv2d(branches_2_1, c0, kernel=1);
    let fuse_layers_0_2_1 = batchnorm(fuse_layers_0_2_0);
    let fuse_layers_0_3_0 = conv2d(branches_3_1, c0, kernel=1);
    let fuse_layers_0_3_1 = batchnorm(fuse_layers_0_3_0);
    let fused_0 = relu(branches_0_1
                       + upsample(fuse_layers_0_1_1, 2)
                       + upsample(fuse_layers_0_2_1, 4)
                       + upsample(fuse_layers_0_3_1, 8));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = conv2d(branches_0_1, c1, kernel=3, stride=2, pad=1);
    let fuse_layers_1_0_0_1 = batchnorm(fuse_layers_1_0_0_0);
    let fuse_layers_1_2_0 = conv2d(branches_2_1, c1, kernel=1);
    let fuse_layers_1_2_1 = batchnorm(fuse_layers_1_2_0);
    let fuse_layers_1_3_0 = conv2d(branches_3_1, c1, kernel=1);
    let fuse_layers_1_3_1 = batchnorm(fuse_layers_1_3_0);
    let fused_1 = relu(fuse_layers_1_0_0_1
                       + branches_1_1
                       + upsample(fuse_layers_1_2_1, 2)
                       + upsample(fuse_layers_1_3_1, 4));

    // Fused output 2 (c2 channels at the resolution of branch 2).
    let fuse_layers_2_0_0_0 = conv2d(branches_0_1, c0, kernel=3, stride=2, pad=1);
    let fuse_layers_2_0_0_1 = batchnorm(fuse_layers_2_0_0_0);
    let down_2_0_0 = relu(fuse_layers_2_0_0_1);
    let fuse_layers_2_0_1_0 = conv2d(down_2_0_0, c2, kernel=3, stride=2, pad=1);
    let fuse_layers_2_0_1_1 = batchnorm(fuse_layers_2_0_1_0);
    let fuse_layers_2_1_0_0 = conv2d(branches_1_1, c2, kernel=3, stride=2, pad=1);
    let fuse_layers_2_1_0_1 = batchnorm(fuse_layers_2_1_0_0);
    let fuse_layers_2_3_0 = conv2d(branches_3_1, c2, kernel=1);
    let fuse_layers_2_3_1 = batchnorm(fuse_layers_2_3_0);
    let fused_2 = relu(fuse_layers_2_0_1_1
                       + fuse_layers_2_1_0_1
                       + branches_2_1
                       + upsample(fuse_layers_2_3_1, 2));

    // Fused output 3 (c3 channels at the resolution of branch 3).
    let fuse_layers_3_0_0_0 = conv2d(branches_0_1, c0, kernel=3, stride=2, pad=1);
    let fuse_layers_3_0_0_1 = batchnorm(fuse_layers_3_0_0_0);
    let down_3_0_0 = relu(fuse_layers_3_0_0_1);
    let fuse_layers_3_0_1_0 = conv2d(down_3_0_0, c0, kernel=3, stride=2, pad=1);
    let fuse_layers_3_0_1_1 = batchnorm(fuse_layers_3_0_1_0);
    let down_3_0_1 = relu(fuse_layers_3_0_1_1);
    let fuse_layers_3_0_2_0 = conv2d(down_3_0_1, c3, kernel=3, stride=2, pad=1);
    let fuse_layers_3_0_2_1 = batchnorm(fuse_layers_3_0_2_0);
    let fuse_layers_3_1_0_0 = conv2d(branches_1_1, c1, kernel=3, stride=2, pad=1);
    let fuse_layers_3_1_0_1 = batchnorm(fuse_layers_3_1_0_0);
    let down_3_1_0 = relu(fuse_layers_3_1_0_1);
    let fuse_layers_3_1_1_0 = conv2d(down_3_1_0, c3, kernel=3, stride=2, pad=1);
    let fuse_layers_3_1_1_1 = batchnorm(fuse_layers_3_1_1_0);
    let fuse_layers_3_2_0_0 = conv2d(branches_2_1, c3, kernel=3, stride=2, pad=1);
    let fuse_layers_3_2_0_1 = batchnorm(fuse_layers_3_2_0_0);
    let fused_3 = relu(fuse_layers_3_0_2_1
                       + fuse_layers_3_1_1_1
                       + fuse_layers_3_2_0_1
                       + branches_3_1);
    return fused_0, fused_1, fused_2, fused_3;
}

model hrnet_w18_small_seg(image: [1, 3, 512, 1024]) {
    // Stem: two 3x3/2 convolutions, 1/2 then 1/4 of the input size.
    let conv1 = conv2d(image, 64, kernel=3, stride=2, pad=1);
    let bn1 = batchnorm(conv1);
    let act1 = relu(bn1);
    let conv2 = conv2d(act1, 64, kernel=3, stride=2, pad=1);
    let bn2 = batchnorm(conv2);
    let act2 = relu(bn2);

    // Stage 1: one Bottleneck, 64 -> 128 channels at 1/4.
    let layer1_0 = bottleneck(act2, 64, 32);

    // Transition 1: 16 channels at 1/4 and a new branch of 32 at 1/8.
    let transition1_0_0 = conv2d(layer1_0, 16, kernel=3, pad=1);
    let transition1_0_1 = batchnorm(transition1_0_0);
    let transition1_1_0_0 = conv2d(layer1_0, 32, kernel=3, stride=2, pad=1);
    let transition1_1_0_1 = batchnorm(transition1_1_0_0);

    // Stage 2: branches of 16 and 32 channels.
    let stage2_0 = module2(relu(transition1_0_1), relu(transition1_1_0_1), 16, 32);

    // Transition 2: a new branch of 64 channels at 1/16 from the 1/8 branch.
    let transition2_2_0_0 = conv2d(stage2_0[1], 64, kernel=3, stride=2, pad=1);
    let transition2_2_0_1 = batchnorm(transition2_2_0_0);

    // Stage 3: branches of 16, 32 and 64 channels.
    let stage3_0 = module3(stage2_0[0], stage2_0[1], relu(transition2_2_0_1),
                           16, 32, 64);

    // Transition 3: a new branch of 128 channels at 1/32 from the 1/16 branch.
    let transition3_3_0_0 = conv2d(stage3_0[2], 128, kernel=3, stride=2, pad=1);
    let transition3_3_0_1 = batchnorm(transition3_3_0_0);

    // Stage 4: branches of 16, 32, 64 and 128 channels at 1/4, 1/8, 1/16 and 1/32.
    let stage4_0 = module4(stage3_0[0], stage3_0[1], stage3_0[2], relu(transition3_3_0_1),
                           16, 32, 64, 128);

    // HRNetV2 segmentation head: the three lower branches upsampled bilinearly
    // (align_corners = false) to 1/4 and concatenated with it (240 channels), a 1x1
    // convolution with batchnorm and ReLU, a 1x1 convolution to the 19 Cityscapes
    // classes, and a x4 bilinear upsampling to the input size.
    let branches = concat(stage4_0[0], upsample(stage4_0[1], 2, mode="bilinear"),
                          upsample(stage4_0[2], 4, mode="bilinear"),
                          upsample(stage4_0[3], 8, mode="bilinear"));
    let last_layer_0 = conv2d(branches, 240, kernel=1, bias=true);
    let last_layer_1 = batchnorm(last_layer_0);
    let last_layer_2 = relu(last_layer_1);
    let last_layer_3 = conv2d(last_layer_2, 19, kernel=1, bias=true);
    let logits = upsample(last_layer_3, 4, mode="bilinear");
    return logits;
}
