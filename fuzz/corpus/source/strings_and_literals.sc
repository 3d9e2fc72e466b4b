// String escapes, integers with leading zeros, floats in every form, booleans.
model literals(x: [1, 8, 4, 4]) {
    let a = upsample(x, scale=02, mode="near\"est\\");
    let b = op(a, s="line\nbreak\ttab", empty="");
    let c = op(b, f1=0.5, f2=10.25, f3=1e3, f4=2E-2, f5=3.0e+1, f6=-0.0);
    let d = op(c, yes=true, no=false, pair=(true, "s"), nested=((1, 2), -(3)));
    return d;
}
