//! Deterministic property tests.
//!
//! Every `proptest!` block of the workspace takes its configuration from [`config`]:
//!
//! - by default the random number generator starts from the fixed seed [`FIXED_SEED`], so a
//!   test run checks the same cases on every machine and every run (CI is deterministic);
//! - `SCC_FRESH_SEEDS=1` draws a fresh seed per test instead (soak runs; proptest prints the
//!   smallest failing input and appends its seed to the test's committed
//!   `*.proptest-regressions` file, whose cases are replayed first in every run);
//! - `PROPTEST_RNG_SEED=N` replays one particular seed (proptest's own variable).
//!
//! [`random_models`] is the number of generated models of the random-model tests:
//! `SCC_RANDOM_MODELS=N`, else the test's default.

use proptest::test_runner::{Config, RngSeed};

/// The seed every property test starts from unless fresh seeds are asked for.
pub const FIXED_SEED: u64 = 0x5cc0_5eed_2024_0009;

/// Whether `SCC_FRESH_SEEDS` asks for fresh seeds (`1`, `true` or `yes`).
pub fn fresh_seeds() -> bool {
    std::env::var("SCC_FRESH_SEEDS")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The proptest configuration of a test with `cases` cases (see the [module docs](self)).
pub fn config(cases: u32) -> Config {
    let defaults = Config::default();
    let rng_seed = if fresh_seeds() {
        RngSeed::Random
    } else if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        defaults.rng_seed
    } else {
        RngSeed::Fixed(FIXED_SEED)
    };
    Config {
        cases,
        rng_seed,
        ..defaults
    }
}

/// The number of generated models: `SCC_RANDOM_MODELS` if it is a number, else `default`.
pub fn random_models(default: u32) -> u32 {
    std::env::var("SCC_RANDOM_MODELS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
