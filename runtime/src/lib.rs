//! `scc-runtime`: tensors, safetensors I/O, seeded weight initialisation and the reference
//! kernels of the `.sc` language.
//!
//! # Invariants
//! - **Independent of the compiler.** This crate depends on nothing of `scc-lang` or
//!   `scc-compiler`; it knows tensors and ops, not programs. The dependency only goes the other
//!   way.
//! - **Safe, plain reference code.** No `unsafe`, no SIMD, no threads: each kernel is a direct,
//!   readable transcription of the PyTorch function it mirrors (inference mode, f32, NCHW; see
//!   `LANGUAGE.md`), with loops ordered to walk memory contiguously and reductions accumulated in
//!   `f64`. It is the project's test oracle: compiled networks are checked against it.
//! - **No panics on external data.** Reading weight files returns [`TensorIoError`] for any
//!   malformed input. Kernels panic only on violated preconditions (invalid shapes), which the
//!   compiler's checks rule out.
//!
//! Native binaries produced by the compiler will link this crate for what every program needs
//! at run time: the [`Tensor`] type, loading weights and inputs ([`read_safetensors`]), writing
//! outputs ([`write_safetensors`]), seeded random weights ([`random::WeightRng`]) and the
//! structured-weight algebra ([`structure`]) used to compose or project weights at load time.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod candidates;
pub mod io;
pub mod kernels;
pub mod random;
pub mod structure;
pub mod sumpool;
pub mod tensor;

pub use io::{
    Checkpoint, SkippedTensor, TensorIoError, parse_checkpoint, parse_safetensors, read_checkpoint,
    read_safetensors, serialize_safetensors, write_safetensors,
};
pub use tensor::{ShapeError, Tensor};
