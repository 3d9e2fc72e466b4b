//! Limits shared by every engine and by built binaries.

/// The most worker threads a model may be run with. A count above it is refused (by the
/// `scc` command line, the library and built binaries) rather than spawning that many.
pub const MAX_THREADS: usize = 1024;

/// Parses a thread count option: `0` (all cores) up to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    let n: usize = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a thread count (0 for all cores, or 1 to {MAX_THREADS})")
    })?;
    if n > MAX_THREADS {
        return Err(format!(
            "{n} threads is more than the {MAX_THREADS} a model may run with"
        ));
    }
    Ok(n)
}

/// The widest a text table's name column is padded to: longer names (identifiers have no
/// length limit) are printed whole and push their row's other cells right.
pub const MAX_COLUMN_WIDTH: usize = 48;

/// The width of a text column holding values of these widths: the widest, at least `min`,
/// at most [`MAX_COLUMN_WIDTH`] (formatting widths are bounded: never pad to an
/// identifier's length).
pub fn column_width(widths: impl IntoIterator<Item = usize>, min: usize) -> usize {
    widths
        .into_iter()
        .max()
        .unwrap_or(0)
        .max(min)
        .min(MAX_COLUMN_WIDTH.max(min))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_widths_are_bounded() {
        assert_eq!(column_width([3, 7], 5), 7);
        assert_eq!(column_width([], 5), 5);
        assert_eq!(column_width([70_000], 5), MAX_COLUMN_WIDTH);
        let name = "a".repeat(70_000);
        let width = column_width([name.len()], 5);
        assert_eq!(format!("{name:<width$}|").len(), 70_001);
    }

    #[test]
    fn thread_counts_are_bounded() {
        assert_eq!(parse_threads("0"), Ok(0));
        assert_eq!(parse_threads("8"), Ok(8));
        assert_eq!(parse_threads("1024"), Ok(1024));
        assert_eq!(
            parse_threads("100000"),
            Err("100000 threads is more than the 1024 a model may run with".into())
        );
        assert!(parse_threads("-1").is_err());
        assert!(parse_threads("two").is_err());
    }
}
