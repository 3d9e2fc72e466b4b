model literals(x: [1, 8, 4, 4]) {
    let a = upsample(x, scale=2, mode="near\"est\\");
    let b = op(a, s="line\nbreak\ttab", empty="");
    let c = op(b, f1=0.5, f2=10.25, f3=1000.0, f4=0.02, f5=30.0, f6=-0.0);
    let d = op(c, yes=true, no=false, pair=(true, "s"), nested=((1, 2), -3));
    return d;
}
