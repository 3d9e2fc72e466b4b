// Structured HRNet-W18-Small: timm's `hrnet_w18_small` (224x224 RGB input, 1000 classes)
// with its convolutions made structured (Bhalgat et al., 2020):
//
//   - every 3x3 convolution after the first (the second stem convolution, the BasicBlocks,
//     the Bottlenecks, the transitions, the stride-2 fuse convolutions and the head's
//     downsampling convolutions): sconv2d(kernel=3, c=C/2, n=2), where C is that
//     convolution's input channel count: 2*C taps per output instead of 9*C;
//   - every 1x1 convolution (Bottleneck reduce/expand and shortcut, the fuse layers' 1x1
//     convolutions, the head's final 1024 -> 2048): sconv2d(kernel=1, c=C/2, n=1);
//   - the first stem convolution (3 input channels) and the classifier stay dense.
//
// Parameters: 5,297,032 (vs 13,187,464 dense).
// MACs: 1,601,508,352 dense-equivalent, 439,432,192 structured (alpha taps only; the
// sum-pooling additions are not counted).
//
// The `let` names are exactly those of `hrnet_w18_small.sc`: timm's state_dict keys with
// every `.<digits>` written `_<digits>` (`stage3.0.branches.2.1.conv2.weight` ->
// `stage3_0.branches_2_1.conv2`). A structured layer's parameters are `<name>.alpha`;
// given a dense `<name>.weight` instead (e.g. a renamed timm checkpoint), the compiler
// projects it onto the structure.

// BasicBlock (timm's resnet.BasicBlock), keeping the shape: two 3x3 convolutions and an
// identity shortcut.
block basic(x, ch: int) {
    let conv1 = sconv2d(x, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1);
    let h = relu(bn1);
    let conv2 = sconv2d(h, ch, kernel=3, pad=1, c=ch / 2, n=2);
    let bn2 = batchnorm(conv2);
    return relu(bn2 + x);
}

// Bottleneck (timm's resnet.Bottleneck) from in_ch to 4 * width channels with a 1x1
// projection shortcut (`downsample_0`, `downsample_1`).
block bottleneck(x, in_ch: int, width: int) {
    let conv1 = sconv2d(x, width, kernel=1, c=in_ch / 2, n=1);
    let bn1 = batchnorm(conv1);
    let h1 = relu(bn1);
    let conv2 = sconv2d(h1, width, kernel=3, pad=1, c=width / 2, n=2);
    let bn2 = batchnorm(conv2);
    let h2 = relu(bn2);
    let conv3 = sconv2d(h2, 4 * width, kernel=1, c=width / 2, n=1);
    let bn3 = batchnorm(conv3);
    let downsample_0 = sconv2d(x, 4 * width, kernel=1, c=in_ch / 2, n=1);
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
    let fuse_layers_0_1_0 = sconv2d(branches_1_1, c0, kernel=1, c=c1 / 2, n=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fused_0 = relu(branches_0_1 + upsample(fuse_layers_0_1_1, 2));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = sconv2d(branches_0_1, c1, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
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
    let fuse_layers_0_1_0 = sconv2d(branches_1_1, c0, kernel=1, c=c1 / 2, n=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fuse_layers_0_2_0 = sconv2d(branches_2_1, c0, kernel=1, c=c2 / 2, n=1);
    let fuse_layers_0_2_1 = batchnorm(fuse_layers_0_2_0);
    let fused_0 = relu(branches_0_1
                       + upsample(fuse_layers_0_1_1, 2)
                       + upsample(fuse_layers_0_2_1, 4));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = sconv2d(branches_0_1, c1, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_1_0_0_1 = batchnorm(fuse_layers_1_0_0_0);
    let fuse_layers_1_2_0 = sconv2d(branches_2_1, c1, kernel=1, c=c2 / 2, n=1);
    let fuse_layers_1_2_1 = batchnorm(fuse_layers_1_2_0);
    let fused_1 = relu(fuse_layers_1_0_0_1 + branches_1_1 + upsample(fuse_layers_1_2_1, 2));

    // Fused output 2 (c2 channels at the resolution of branch 2).
    let fuse_layers_2_0_0_0 = sconv2d(branches_0_1, c0, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_2_0_0_1 = batchnorm(fuse_layers_2_0_0_0);
    let down_2_0_0 = relu(fuse_layers_2_0_0_1);
    let fuse_layers_2_0_1_0 = sconv2d(down_2_0_0, c2, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_2_0_1_1 = batchnorm(fuse_layers_2_0_1_0);
    let fuse_layers_2_1_0_0 = sconv2d(branches_1_1, c2, kernel=3,
                                      stride=2, pad=1, c=c1 / 2, n=2);
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
    let fuse_layers_0_1_0 = sconv2d(branches_1_1, c0, kernel=1, c=c1 / 2, n=1);
    let fuse_layers_0_1_1 = batchnorm(fuse_layers_0_1_0);
    let fuse_layers_0_2_0 = sconv2d(branches_2_1, c0, kernel=1, c=c2 / 2, n=1);
    let fuse_layers_0_2_1 = batchnorm(fuse_layers_0_2_0);
    let fuse_layers_0_3_0 = sconv2d(branches_3_1, c0, kernel=1, c=c3 / 2, n=1);
    let fuse_layers_0_3_1 = batchnorm(fuse_layers_0_3_0);
    let fused_0 = relu(branches_0_1
                       + upsample(fuse_layers_0_1_1, 2)
                       + upsample(fuse_layers_0_2_1, 4)
                       + upsample(fuse_layers_0_3_1, 8));

    // Fused output 1 (c1 channels at the resolution of branch 1).
    let fuse_layers_1_0_0_0 = sconv2d(branches_0_1, c1, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_1_0_0_1 = batchnorm(fuse_layers_1_0_0_0);
    let fuse_layers_1_2_0 = sconv2d(branches_2_1, c1, kernel=1, c=c2 / 2, n=1);
    let fuse_layers_1_2_1 = batchnorm(fuse_layers_1_2_0);
    let fuse_layers_1_3_0 = sconv2d(branches_3_1, c1, kernel=1, c=c3 / 2, n=1);
    let fuse_layers_1_3_1 = batchnorm(fuse_layers_1_3_0);
    let fused_1 = relu(fuse_layers_1_0_0_1
                       + branches_1_1
                       + upsample(fuse_layers_1_2_1, 2)
                       + upsample(fuse_layers_1_3_1, 4));

    // Fused output 2 (c2 channels at the resolution of branch 2).
    let fuse_layers_2_0_0_0 = sconv2d(branches_0_1, c0, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_2_0_0_1 = batchnorm(fuse_layers_2_0_0_0);
    let down_2_0_0 = relu(fuse_layers_2_0_0_1);
    let fuse_layers_2_0_1_0 = sconv2d(down_2_0_0, c2, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_2_0_1_1 = batchnorm(fuse_layers_2_0_1_0);
    let fuse_layers_2_1_0_0 = sconv2d(branches_1_1, c2, kernel=3,
                                      stride=2, pad=1, c=c1 / 2, n=2);
    let fuse_layers_2_1_0_1 = batchnorm(fuse_layers_2_1_0_0);
    let fuse_layers_2_3_0 = sconv2d(branches_3_1, c2, kernel=1, c=c3 / 2, n=1);
    let fuse_layers_2_3_1 = batchnorm(fuse_layers_2_3_0);
    let fused_2 = relu(fuse_layers_2_0_1_1
                       + fuse_layers_2_1_0_1
                       + branches_2_1
                       + upsample(fuse_layers_2_3_1, 2));

    // Fused output 3 (c3 channels at the resolution of branch 3).
    let fuse_layers_3_0_0_0 = sconv2d(branches_0_1, c0, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_3_0_0_1 = batchnorm(fuse_layers_3_0_0_0);
    let down_3_0_0 = relu(fuse_layers_3_0_0_1);
    let fuse_layers_3_0_1_0 = sconv2d(down_3_0_0, c0, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_3_0_1_1 = batchnorm(fuse_layers_3_0_1_0);
    let down_3_0_1 = relu(fuse_layers_3_0_1_1);
    let fuse_layers_3_0_2_0 = sconv2d(down_3_0_1, c3, kernel=3,
                                      stride=2, pad=1, c=c0 / 2, n=2);
    let fuse_layers_3_0_2_1 = batchnorm(fuse_layers_3_0_2_0);
    let fuse_layers_3_1_0_0 = sconv2d(branches_1_1, c1, kernel=3,
                                      stride=2, pad=1, c=c1 / 2, n=2);
    let fuse_layers_3_1_0_1 = batchnorm(fuse_layers_3_1_0_0);
    let down_3_1_0 = relu(fuse_layers_3_1_0_1);
    let fuse_layers_3_1_1_0 = sconv2d(down_3_1_0, c3, kernel=3,
                                      stride=2, pad=1, c=c1 / 2, n=2);
    let fuse_layers_3_1_1_1 = batchnorm(fuse_layers_3_1_1_0);
    let fuse_layers_3_2_0_0 = sconv2d(branches_2_1, c3, kernel=3,
                                      stride=2, pad=1, c=c2 / 2, n=2);
    let fuse_layers_3_2_0_1 = batchnorm(fuse_layers_3_2_0_0);
    let fused_3 = relu(fuse_layers_3_0_2_1
                       + fuse_layers_3_1_1_1
                       + fuse_layers_3_2_0_1
                       + branches_3_1);
    return fused_0, fused_1, fused_2, fused_3;
}

model hrnet_w18_small_s(image: [1, 3, 224, 224]) {
    // Stem: two 3x3/2 convolutions, 1/2 then 1/4 of the input size; the first dense.
    let conv1 = conv2d(image, 64, kernel=3, stride=2, pad=1);
    let bn1 = batchnorm(conv1);
    let act1 = relu(bn1);
    let conv2 = sconv2d(act1, 64, kernel=3, stride=2, pad=1, c=32, n=2);
    let bn2 = batchnorm(conv2);
    let act2 = relu(bn2);

    // Stage 1: one Bottleneck, 64 -> 128 channels at 1/4.
    let layer1_0 = bottleneck(act2, 64, 32);

    // Transition 1: 16 channels at 1/4 and a new branch of 32 at 1/8.
    let transition1_0_0 = sconv2d(layer1_0, 16, kernel=3, pad=1, c=64, n=2);
    let transition1_0_1 = batchnorm(transition1_0_0);
    let transition1_1_0_0 = sconv2d(layer1_0, 32, kernel=3, stride=2, pad=1, c=64, n=2);
    let transition1_1_0_1 = batchnorm(transition1_1_0_0);

    // Stage 2: branches of 16 and 32 channels.
    let stage2_0 = module2(relu(transition1_0_1), relu(transition1_1_0_1), 16, 32);

    // Transition 2: a new branch of 64 channels at 1/16 from the 1/8 branch.
    let transition2_2_0_0 = sconv2d(stage2_0[1], 64, kernel=3, stride=2, pad=1, c=16, n=2);
    let transition2_2_0_1 = batchnorm(transition2_2_0_0);

    // Stage 3: branches of 16, 32 and 64 channels.
    let stage3_0 = module3(stage2_0[0], stage2_0[1], relu(transition2_2_0_1),
                           16, 32, 64);

    // Transition 3: a new branch of 128 channels at 1/32 from the 1/16 branch.
    let transition3_3_0_0 = sconv2d(stage3_0[2], 128, kernel=3, stride=2, pad=1, c=32, n=2);
    let transition3_3_0_1 = batchnorm(transition3_3_0_0);

    // Stage 4: branches of 16, 32, 64 and 128 channels at 1/4, 1/8, 1/16 and 1/32.
    let stage4_0 = module4(stage3_0[0], stage3_0[1], stage3_0[2], relu(transition3_3_0_1),
                           16, 32, 64, 128);

    // Classification head: a Bottleneck per branch widening it to 128, 256, 512 and
    // 1024 channels, summed from high to low resolution through stride-2 3x3
    // convolutions (with bias), a 1x1 convolution to 2048 channels, global average
    // pooling and the 1000-way classifier (dense).
    let incre_modules_0_0 = bottleneck(stage4_0[0], 16, 32);
    let incre_modules_1_0 = bottleneck(stage4_0[1], 32, 64);
    let incre_modules_2_0 = bottleneck(stage4_0[2], 64, 128);
    let incre_modules_3_0 = bottleneck(stage4_0[3], 128, 256);
    let downsamp_modules_0_0 = sconv2d(incre_modules_0_0, 256, kernel=3,
                                       stride=2, pad=1, c=64, n=2, bias=true);
    let downsamp_modules_0_1 = batchnorm(downsamp_modules_0_0);
    let merged_1 = incre_modules_1_0 + relu(downsamp_modules_0_1);
    let downsamp_modules_1_0 = sconv2d(merged_1, 512, kernel=3,
                                       stride=2, pad=1, c=128, n=2, bias=true);
    let downsamp_modules_1_1 = batchnorm(downsamp_modules_1_0);
    let merged_2 = incre_modules_2_0 + relu(downsamp_modules_1_1);
    let downsamp_modules_2_0 = sconv2d(merged_2, 1024, kernel=3,
                                       stride=2, pad=1, c=256, n=2, bias=true);
    let downsamp_modules_2_1 = batchnorm(downsamp_modules_2_0);
    let merged_3 = incre_modules_3_0 + relu(downsamp_modules_2_1);
    let final_layer_0 = sconv2d(merged_3, 2048, kernel=1, c=512, n=1, bias=true);
    let final_layer_1 = batchnorm(final_layer_0);
    let features = relu(final_layer_1);
    let pooled = flatten(global_avgpool(features));
    let classifier = linear(pooled, 1000);
    return classifier;
}
