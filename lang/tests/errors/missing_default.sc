block b(x, ch: int = ) {
    return x;
}
