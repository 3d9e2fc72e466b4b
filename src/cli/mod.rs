//! The commands of the `scc` command line, one file each, and what they share.

pub mod advise;
pub mod bench;
pub mod build;
pub mod check;
pub mod common;
pub mod dot;
pub mod import;
pub mod run;
