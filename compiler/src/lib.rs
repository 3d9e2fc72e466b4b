//! scc's middle end: the graph IR, lowering from the AST, shape inference, weights
//! binding, cost accounting and the reference interpreter.
//!
//! Invariant: a [`ir::Graph`] that leaves this crate is well formed: acyclic, every node's
//! shape equals [`shape::infer`] of its operands, every weighted node has a unique weight path.

pub mod advise;
pub mod codegen;
pub mod dot;
pub mod interp;
pub mod ir;
pub mod lower;
pub mod memory;
pub mod params;
pub mod passes;
pub mod random_weights;
pub mod shape;
pub mod stats;
pub mod target;
pub mod verify;
pub mod weights;

pub use ir::{Graph, Node, NodeId, Op};
pub use lower::{DEFAULT_MAX_NODES, LowerError, LowerOptions, lower, lower_with};
