//! What the generated code may assume about the CPU: the vector [`Tier`] of the kernels and
//! the [`TargetCpu`] whose instruction-set features Cranelift may use.
//!
//! The tiers: `128` — Cranelift's own 128-bit kernels (FMA when the target has AVX + FMA),
//! the tier for CPUs without AVX2; `avx2` — 256-bit micro-kernels (AVX2 + FMA, 8 lanes) with
//! channel-blocked activations (NCHW8c); `avx512` — 512-bit micro-kernels (AVX-512F, 16 lanes,
//! NCHW16c). A target CPU is the host (`native`) or an x86-64 psABI level; its best tier is
//! the default, a lower one may be asked for. [`Target::features`] lists exactly the features
//! the code of that target may use — what a built binary records and checks at start-up.

use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use std::fmt;
use std::sync::Arc;

/// A vector tier of the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Tier {
    /// Cranelift's 128-bit kernels, plain NCHW activations.
    #[default]
    V128,
    /// AVX2 + FMA micro-kernels, NCHW8c activations.
    Avx2,
    /// AVX-512F micro-kernels, NCHW16c activations.
    Avx512,
}

impl Tier {
    /// Every tier, narrowest first.
    pub const ALL: [Tier; 3] = [Tier::V128, Tier::Avx2, Tier::Avx512];

    /// The name options and dumps use: `128`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::V128 => "128",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
        }
    }

    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == name)
    }

    /// f32 lanes of its vectors.
    pub fn lanes(self) -> usize {
        match self {
            Tier::V128 => 4,
            Tier::Avx2 => 8,
            Tier::Avx512 => 16,
        }
    }

    /// Vector width in bits.
    pub fn bits(self) -> usize {
        self.lanes() * 32
    }

    /// Whether its kernels are the wide micro-kernels (channel-blocked layout).
    pub fn is_wide(self) -> bool {
        self != Tier::V128
    }

    /// The CPU features its micro-kernels need (none for the 128-bit tier, whose needs are
    /// those of the Cranelift target).
    pub fn kernel_features(self) -> &'static [&'static str] {
        match self {
            Tier::V128 => &[],
            Tier::Avx2 => &["avx", "avx2", "fma"],
            Tier::Avx512 => &["avx", "avx2", "fma", "avx512f"],
        }
    }

    /// The best tier a set of features allows.
    fn best_for(has: impl Fn(&str) -> bool) -> Tier {
        if has("avx512f") && has("avx2") && has("fma") {
            Tier::Avx512
        } else if has("avx2") && has("fma") {
            Tier::Avx2
        } else {
            Tier::V128
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which CPU the code is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetCpu {
    /// This machine's CPU, with every feature it has.
    Native,
    /// x86-64-v2: SSE4.2, SSSE3, POPCNT (any x86-64 CPU since about 2009); the portable baseline.
    X86_64V2,
    /// x86-64-v3: v2 + AVX, AVX2, FMA, BMI1/2, LZCNT (Haswell, Zen and later).
    X86_64V3,
    /// x86-64-v4: v3 + AVX-512F/VL/DQ (Skylake-SP, Zen 4 and later).
    X86_64V4,
}

impl TargetCpu {
    pub const ALL: [TargetCpu; 4] = [
        TargetCpu::Native,
        TargetCpu::X86_64V2,
        TargetCpu::X86_64V3,
        TargetCpu::X86_64V4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TargetCpu::Native => "native",
            TargetCpu::X86_64V2 => "x86-64-v2",
            TargetCpu::X86_64V3 => "x86-64-v3",
            TargetCpu::X86_64V4 => "x86-64-v4",
        }
    }

    pub fn from_name(name: &str) -> Option<TargetCpu> {
        TargetCpu::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The Cranelift flags of a psABI level (`None` for `native`: detected).
    fn level_flags(self) -> Option<&'static [&'static str]> {
        const V2: &[&str] = &[
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
            "has_cmpxchg16b",
        ];
        const V3: &[&str] = &[
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
            "has_cmpxchg16b",
            "has_avx",
            "has_avx2",
            "has_fma",
            "has_bmi1",
            "has_bmi2",
            "has_lzcnt",
        ];
        const V4: &[&str] = &[
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
            "has_cmpxchg16b",
            "has_avx",
            "has_avx2",
            "has_fma",
            "has_bmi1",
            "has_bmi2",
            "has_lzcnt",
            "has_avx512f",
            "has_avx512vl",
            "has_avx512dq",
        ];
        match self {
            TargetCpu::Native => None,
            TargetCpu::X86_64V2 => Some(V2),
            TargetCpu::X86_64V3 => Some(V3),
            TargetCpu::X86_64V4 => Some(V4),
        }
    }
}

impl fmt::Display for TargetCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "tier {tier} needs {needs}, which {cpu} does not have; the tiers of {cpu} are: {available}"
    )]
    TierUnavailable {
        tier: Tier,
        cpu: String,
        needs: String,
        available: String,
    },
    #[error("this machine is not supported by the code generator: {0}")]
    UnsupportedHost(String),
}

/// A target: the CPU and the tier of the kernels, validated against each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub cpu: TargetCpu,
    pub tier: Tier,
    /// Cranelift flags (`has_*`) of the CPU.
    flags: Vec<String>,
}

/// Cranelift's name of a feature flag → the LLVM / `is_x86_feature_detected!` name.
fn feature_name(flag: &str) -> String {
    match flag {
        "has_sse41" => "sse4.1".into(),
        "has_sse42" => "sse4.2".into(),
        "has_avx_vnni" => "avxvnni".into(),
        other => other.trim_start_matches("has_").to_string(),
    }
}

impl Target {
    /// The host CPU with its best tier.
    pub fn host() -> Result<Target, TargetError> {
        Target::new(TargetCpu::Native, None)
    }

    /// `cpu` with `tier` (its best tier when `None`); an error names what the tier needs.
    pub fn new(cpu: TargetCpu, tier: Option<Tier>) -> Result<Target, TargetError> {
        let flags = match cpu.level_flags() {
            Some(flags) => flags.iter().map(|f| f.to_string()).collect(),
            None => {
                let builder = cranelift_native::builder()
                    .map_err(|e| TargetError::UnsupportedHost(e.to_string()))?;
                let isa = builder
                    .finish(settings::Flags::new(settings::builder()))
                    .map_err(|e| TargetError::UnsupportedHost(e.to_string()))?;
                isa.isa_flags()
                    .iter()
                    .filter(|f| f.name.starts_with("has_") && f.as_bool() == Some(true))
                    .map(|f| f.name.to_string())
                    .collect::<Vec<_>>()
            }
        };
        let has = |feature: &str| flags.iter().any(|f| feature_name(f) == feature);
        let best = Tier::best_for(has);
        let tier = tier.unwrap_or(best);
        if tier > best {
            let missing: Vec<&str> = tier
                .kernel_features()
                .iter()
                .copied()
                .filter(|f| !has(f))
                .collect();
            return Err(TargetError::TierUnavailable {
                tier,
                cpu: match cpu {
                    TargetCpu::Native => "this CPU".to_string(),
                    other => other.name().to_string(),
                },
                needs: missing.join(", "),
                available: Tier::ALL
                    .iter()
                    .filter(|t| **t <= best)
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Target { cpu, tier, flags })
    }

    /// The host with `tier` (its best when `None`).
    pub fn host_with(tier: Option<Tier>) -> Result<Target, TargetError> {
        Target::new(TargetCpu::Native, tier)
    }

    /// The best tier of `cpu`.
    pub fn best_tier(cpu: TargetCpu) -> Result<Tier, TargetError> {
        Ok(Target::new(cpu, None)?.tier)
    }

    /// Whether the 128-bit kernels may use FMA (fused when the target has AVX and FMA).
    pub fn has_fma(&self) -> bool {
        let has = |f: &str| self.flags.iter().any(|g| g == f);
        has("has_fma") && has("has_avx")
    }

    /// Every CPU feature the code of this target may use, sorted: the Cranelift flags of the
    /// CPU and the micro-kernels' features of the tier.
    pub fn features(&self) -> Vec<String> {
        let mut features: Vec<String> = self.flags.iter().map(|f| feature_name(f)).collect();
        features.extend(self.tier.kernel_features().iter().map(|f| f.to_string()));
        features.sort();
        features.dedup();
        features
    }

    /// The Cranelift ISA of this target with scc's settings: `opt_level=none` (the kernels are
    /// emitted in the order they should run, with register tiles and loads next to their uses;
    /// the e-graph optimiser of `speed` re-elaborates pure values at their last use and spills
    /// the tiles, halving the 128-bit conv throughput) and `is_pic` as asked.
    pub fn isa(&self, is_pic: bool) -> Result<Arc<dyn TargetIsa>, TargetError> {
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, k: &str, v: &str| {
            flags
                .set(k, v)
                .map_err(|e| TargetError::UnsupportedHost(format!("{k}={v}: {e}")))
        };
        set(&mut flags, "opt_level", "none")?;
        set(&mut flags, "is_pic", if is_pic { "true" } else { "false" })?;
        set(&mut flags, "use_colocated_libcalls", "false")?;
        let mut builder = match self.cpu {
            TargetCpu::Native => cranelift_native::builder(),
            _ => cranelift_native::builder_with_options(false),
        }
        .map_err(|e| TargetError::UnsupportedHost(e.to_string()))?;
        if self.cpu != TargetCpu::Native {
            for flag in &self.flags {
                builder
                    .enable(flag)
                    .map_err(|e| TargetError::UnsupportedHost(format!("{flag}: {e}")))?;
            }
        }
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| TargetError::UnsupportedHost(e.to_string()))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (tier {})", self.cpu, self.tier)
    }
}
