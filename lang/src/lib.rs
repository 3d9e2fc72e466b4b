//! The `.sc` model language: lexer and parser (lalrpop), AST with spans, diagnostics.
//!
//! This crate knows nothing of the IR: it turns text into an [`ast::File`] or a located
//! [`Diagnostic`], and provides the diagnostic type every later stage reports with.

pub mod ast;
pub mod diagnostic;
pub mod dump;
pub mod parser;
pub mod print;
pub mod span;

pub use diagnostic::{Diagnostic, Label};
pub use dump::{dump, dump_with_source};
pub use parser::parse;
pub use print::{print, print_annotated};
pub use span::{SourceFile, Span};
