//! A compact, readable dump of the AST, for snapshot tests and debugging.
//!
//! The format is s-expression-like, one item per paragraph and one statement per line:
//!
//! ```text
//! (block basic @1:1
//!   (param x)
//!   (param stride int 1)
//!   (let conv @2:5 (conv2d x 16 kernel=(3, 3) stride=stride pad=(- 1)))
//!   (return @3:5 (relu (+ (* conv 2) x))))
//! ```
//!
//! Calls print as `(callee arg... keyword=arg...)`, binary operations as `(op lhs rhs)`,
//! negation as `(- e)`, pairs as `(a, b)`, `x[i]` as `(index x i)`, strings and floats as Rust literals. Items and
//! statements are followed by their position: `@line:col` with a source file, else the
//! byte range `@start..end`.

use crate::ast::{Arg, BlockParam, Expr, ExprKind, File, Item, Stmt};
use crate::span::{SourceFile, Span};
use std::fmt::Write;

/// Dumps `file`, locating items and statements by byte range (`@start..end`).
pub fn dump(file: &File) -> String {
    Printer {
        source: None,
        out: String::new(),
    }
    .file(file)
}

/// Dumps `file`, locating items and statements by the `line:col` of their first
/// character in `source` (the file `file` was parsed from).
pub fn dump_with_source(file: &File, source: &SourceFile) -> String {
    Printer {
        source: Some(source),
        out: String::new(),
    }
    .file(file)
}

struct Printer<'a> {
    source: Option<&'a SourceFile>,
    out: String,
}

impl Printer<'_> {
    fn file(mut self, file: &File) -> String {
        for (i, item) in file.items.iter().enumerate() {
            if i > 0 {
                self.out.push('\n');
            }
            self.item(item);
        }
        self.out
    }

    fn at(&mut self, span: Span) {
        match self.source {
            Some(source) => {
                let (line, col) = source.line_col(span.start);
                let _ = write!(self.out, "@{line}:{col}");
            }
            None => {
                let _ = write!(self.out, "@{}..{}", span.start, span.end);
            }
        }
    }

    fn item(&mut self, item: &Item) {
        let (keyword, name, span, body) = match item {
            Item::Block(block) => ("block", &block.name, block.span, &block.body),
            Item::Model(model) => ("model", &model.name, model.span, &model.body),
        };
        let _ = write!(self.out, "({keyword} {} ", name.name);
        self.at(span);
        match item {
            Item::Block(block) => {
                for param in &block.params {
                    self.out.push_str("\n  (param ");
                    match param {
                        BlockParam::Tensor(name) => self.out.push_str(&name.name),
                        BlockParam::Int { name, default } => {
                            let _ = write!(self.out, "{} int", name.name);
                            if let Some(default) = default {
                                self.out.push(' ');
                                self.expr(default);
                            }
                        }
                    }
                    self.out.push(')');
                }
            }
            Item::Model(model) => {
                for input in &model.inputs {
                    let dims: Vec<String> = input.dims.iter().map(|(d, _)| d.to_string()).collect();
                    let _ = write!(
                        self.out,
                        "\n  (input {} [{}])",
                        input.name.name,
                        dims.join(" ")
                    );
                }
            }
        }
        for stmt in body {
            self.out.push_str("\n  ");
            self.stmt(stmt);
        }
        self.out.push_str(")\n");
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Let { name, value, span } => {
                let _ = write!(self.out, "(let {} ", name.name);
                self.at(*span);
                self.out.push(' ');
                self.expr(value);
            }
            Stmt::Return { values, span } => {
                self.out.push_str("(return ");
                self.at(*span);
                for value in values {
                    self.out.push(' ');
                    self.expr(value);
                }
            }
        }
        self.out.push(')');
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Int(value) => {
                let _ = write!(self.out, "{value}");
            }
            ExprKind::Float(value) => {
                let _ = write!(self.out, "{value:?}");
            }
            ExprKind::Str(value) => {
                let _ = write!(self.out, "{value:?}");
            }
            ExprKind::Bool(value) => {
                let _ = write!(self.out, "{value}");
            }
            ExprKind::Name(name) => self.out.push_str(name),
            ExprKind::Neg(operand) => {
                self.out.push_str("(- ");
                self.expr(operand);
                self.out.push(')');
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let _ = write!(self.out, "({} ", op.symbol());
                self.expr(lhs);
                self.out.push(' ');
                self.expr(rhs);
                self.out.push(')');
            }
            ExprKind::Pair(first, second) => {
                self.out.push('(');
                self.expr(first);
                self.out.push_str(", ");
                self.expr(second);
                self.out.push(')');
            }
            ExprKind::List(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    self.expr(item);
                }
                self.out.push(']');
            }
            ExprKind::Index { base, position } => {
                self.out.push_str("(index ");
                self.expr(base);
                self.out.push(' ');
                self.expr(position);
                self.out.push(')');
            }
            ExprKind::Call(call) => {
                let _ = write!(self.out, "({}", call.callee.name);
                for arg in &call.args {
                    self.out.push(' ');
                    self.arg(arg);
                }
                self.out.push(')');
            }
        }
    }

    fn arg(&mut self, arg: &Arg) {
        if let Some(keyword) = &arg.keyword {
            let _ = write!(self.out, "{}=", keyword.name);
        }
        self.expr(&arg.value);
    }
}
