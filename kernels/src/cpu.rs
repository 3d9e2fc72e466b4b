//! The CPU features scc's code can need, by name, and whether this CPU has them.

/// Every feature generated code may need (LLVM / `is_x86_feature_detected!` names), in the
/// order feature records list them.
/// Append only: binaries record features as bits of this list.
pub const KNOWN_FEATURES: &[&str] = &[
    "sse3",
    "ssse3",
    "sse4.1",
    "sse4.2",
    "popcnt",
    "cmpxchg16b",
    "avx",
    "avx2",
    "fma",
    "bmi1",
    "bmi2",
    "lzcnt",
    "avx512f",
    "avx512vl",
    "avx512dq",
    "avx512bw",
    "avx512bitalg",
    "avx512vbmi",
    "avx512vnni",
    "avxvnni",
];

/// The bit mask of `features` over [`KNOWN_FEATURES`]; `Err` names one it does not know.
pub fn feature_mask<'a>(features: impl IntoIterator<Item = &'a str>) -> Result<u64, &'a str> {
    let mut mask = 0;
    for f in features {
        let bit = KNOWN_FEATURES.iter().position(|k| *k == f).ok_or(f)?;
        mask |= 1u64 << bit;
    }
    Ok(mask)
}

/// What this CPU lacks of the features in `mask`: their names, and bits this runtime does
/// not know (a binary of a newer scc) as `unknown feature #N`.
pub fn missing_in_mask(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .filter_map(|bit| match KNOWN_FEATURES.get(bit) {
            Some(name) => (has_feature(name) != Some(true)).then(|| name.to_string()),
            None => Some(format!("unknown feature #{bit} (recorded by a newer scc)")),
        })
        .collect()
}

/// Whether this CPU has `feature` (`None` for a name outside [`KNOWN_FEATURES`]).
pub fn has_feature(feature: &str) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    {
        Some(match feature {
            "sse3" => std::arch::is_x86_feature_detected!("sse3"),
            "ssse3" => std::arch::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::arch::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::arch::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::arch::is_x86_feature_detected!("popcnt"),
            "avx" => std::arch::is_x86_feature_detected!("avx"),
            "avx2" => std::arch::is_x86_feature_detected!("avx2"),
            "fma" => std::arch::is_x86_feature_detected!("fma"),
            "bmi1" => std::arch::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::arch::is_x86_feature_detected!("bmi2"),
            "lzcnt" => std::arch::is_x86_feature_detected!("lzcnt"),
            "avx512f" => std::arch::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::arch::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::arch::is_x86_feature_detected!("avx512dq"),
            "avx512bw" => std::arch::is_x86_feature_detected!("avx512bw"),
            "cmpxchg16b" => std::arch::is_x86_feature_detected!("cmpxchg16b"),
            "avx512bitalg" => std::arch::is_x86_feature_detected!("avx512bitalg"),
            "avx512vbmi" => std::arch::is_x86_feature_detected!("avx512vbmi"),
            "avx512vnni" => std::arch::is_x86_feature_detected!("avx512vnni"),
            "avxvnni" => std::arch::is_x86_feature_detected!("avxvnni"),
            _ => return None,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = feature;
        None
    }
}

/// The features of `required` this CPU lacks (unknown names count as lacking).
pub fn missing_features<'a>(required: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    required
        .into_iter()
        .filter(|f| has_feature(f) != Some(true))
        .collect()
}
