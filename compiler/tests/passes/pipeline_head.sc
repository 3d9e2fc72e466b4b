// passes: decompose-structured,fold-batchnorm,fuse-epilogue,cse,fuse-sumpools,dce,select-sumpool-algorithm,fold-constants
// Classifier head: global pooling, structured and dense fully connected layers, softmax.
model head(x: [2, 16, 7, 7]) {
    let pooled = flatten(global_avgpool(x));
    let fc1 = slinear(pooled, 12, c=8);
    let h = relu(fc1);
    let fc2 = linear(h, 5);
    let probs = softmax(fc2);
    return fc2, probs;
}
