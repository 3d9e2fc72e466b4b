/* A file-level block comment
   spanning several lines, with * stars ** and / slashes. */
// Comments may appear between any two tokens.
model /* name */ commented(/* input */ x /* : */ : [1, /* channels */ 3, 4, 4]) { // open
    // a whole-line comment
    let a = relu(x); // trailing
    let b = /* inline */ relu(a) /**/;
    let c = concat(a, b); /* a /* does not nest */
    let d = upsample(c, scale=2, mode="nearest // not a comment /* nor this */");
    /***/
    return d; //* a line comment, not a block comment
} /* the end */ // really
