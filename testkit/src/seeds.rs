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
//! Only a fresh-seed run writes regression files: with fixed seeds a failure is reproduced
//! by running the test again, and a test run never modifies the clone it runs in
//! ([`ReplayOnly`]).
//!
//! [`random_models`] is the number of generated models of the random-model tests:
//! `SCC_RANDOM_MODELS=N`, else the test's default.

use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, PersistedSeed, RngSeed,
};
use std::any::Any;
use std::fmt;

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
    let failure_persistence: Box<dyn FailurePersistence> = if fresh_seeds() {
        Box::new(FileFailurePersistence::default())
    } else {
        Box::new(ReplayOnly(FileFailurePersistence::default()))
    };
    Config {
        cases,
        rng_seed,
        failure_persistence: Some(failure_persistence),
        ..defaults
    }
}

/// Failure persistence that replays the committed regression cases of a test and records
/// nothing: a failing case is reported (with its seed) on stderr instead of being appended to
/// the regression file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOnly(pub FileFailurePersistence);

impl FailurePersistence for ReplayOnly {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        self.0.load_persisted_failures2(source_file)
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn fmt::Debug,
    ) {
        eprintln!(
            "proptest: failing case of {} not recorded (fixed-seed run): cc {seed} # shrinks to {shrunken_value:?}",
            source_file.unwrap_or("an unknown file")
        );
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<Self>() == Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The number of generated models: `SCC_RANDOM_MODELS` if it is a number, else `default`.
pub fn random_models(default: u32) -> u32 {
    std::env::var("SCC_RANDOM_MODELS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_only_reads_committed_cases_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source: &'static str = Box::leak(
            dir.path()
                .join("case.rs")
                .display()
                .to_string()
                .into_boxed_str(),
        );
        let regressions = dir.path().join("case.proptest-regressions");
        let line = "cc 38f76f293080110ef4f8ceb2063d94a4f6d43f5fb05a72f28093ff209643fb32 # shrinks to seed = 1\n";
        std::fs::write(&regressions, line).unwrap();
        let mut persistence = ReplayOnly(FileFailurePersistence::default());
        let seeds = persistence.load_persisted_failures2(Some(source));
        assert_eq!(seeds.len(), 1);
        persistence.save_persisted_failure2(Some(source), seeds[0].clone(), &"a new failure");
        assert_eq!(std::fs::read_to_string(&regressions).unwrap(), line);
        // The file proptest would otherwise append to.
        let mut writing = FileFailurePersistence::default();
        writing.save_persisted_failure2(Some(source), seeds[0].clone(), &"a new failure");
        assert_ne!(std::fs::read_to_string(&regressions).unwrap(), line);
    }
}
