//! Test support shared by every scc crate (a dev-dependency only; it depends on no scc crate,
//! so any crate's tests can use it):
//!
//! - [`seeds`]: property tests with fixed seeds by default, fresh ones on request
//!   (`SCC_FRESH_SEEDS=1`), and the size of the random-model tests (`SCC_RANDOM_MODELS`);
//! - [`accuracy`]: f32 results against a float64 reference, with per-element error measures
//!   that cannot hide small outputs;
//! - [`reference`]: float64 references of the activations, with PyTorch's special values.

pub mod accuracy;
pub mod reference;
pub mod seeds;

pub use accuracy::{Accuracy, relative, scaled};
pub use seeds::{config, random_models};
