// Each block calls the previous one twice: `b20` is 1,048,576 relu nodes, over the
// default limit of 1,000,000.
block b0(x) { let y = relu(x); return y; }
block b1(x) { let a = b0(x); let b = b0(a); return b; }
block b2(x) { let a = b1(x); let b = b1(a); return b; }
block b3(x) { let a = b2(x); let b = b2(a); return b; }
block b4(x) { let a = b3(x); let b = b3(a); return b; }
block b5(x) { let a = b4(x); let b = b4(a); return b; }
block b6(x) { let a = b5(x); let b = b5(a); return b; }
block b7(x) { let a = b6(x); let b = b6(a); return b; }
block b8(x) { let a = b7(x); let b = b7(a); return b; }
block b9(x) { let a = b8(x); let b = b8(a); return b; }
block b10(x) { let a = b9(x); let b = b9(a); return b; }
block b11(x) { let a = b10(x); let b = b10(a); return b; }
block b12(x) { let a = b11(x); let b = b11(a); return b; }
block b13(x) { let a = b12(x); let b = b12(a); return b; }
block b14(x) { let a = b13(x); let b = b13(a); return b; }
block b15(x) { let a = b14(x); let b = b14(a); return b; }
block b16(x) { let a = b15(x); let b = b15(a); return b; }
block b17(x) { let a = b16(x); let b = b16(a); return b; }
block b18(x) { let a = b17(x); let b = b17(a); return b; }
block b19(x) { let a = b18(x); let b = b18(a); return b; }
block b20(x) { let a = b19(x); let b = b19(a); return b; }
model doubling(x: [1, 4]) { let y = b20(x); return y; }
