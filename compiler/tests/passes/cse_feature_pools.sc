// passes: decompose-structured,cse
// Two structured linears with the same c over the same features share their feature
// sum-pool (window 13); a third with another c keeps its own (window 9).
model cse_feature_pools(x: [2, 16]) {
    let a = slinear(x, 10, c=4);
    let b = slinear(x, 6, c=4, bias=false);
    let c = slinear(x, 6, c=8);
    return a, b, c;
}
