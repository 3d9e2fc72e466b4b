//! Printing an AST as readable `.sc` text.
//!
//! The printed text parses back to the same AST, spans aside: `parse(print(file))` equals
//! `file` once every span is ignored (parentheses are printed exactly where precedence needs
//! them, floats in their shortest exact form, strings escaped). Layout: items separated by a
//! blank line, one statement per line indented by four spaces, keyword arguments as
//! `key=value`. [`print_annotated`] adds a header comment and a comment after chosen `let`s
//! (e.g. the ONNX node each layer came from).

use crate::ast::{Arg, BinOp, BlockParam, Expr, ExprKind, File, Item, Stmt};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Comments to print with an AST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Lines of a comment at the top of the file.
    pub header: Vec<String>,
    /// A comment printed at the end of the line of the `let` with this name (in any item).
    pub lets: BTreeMap<String, String>,
}

/// The file as `.sc` text.
pub fn print(file: &File) -> String {
    print_annotated(file, &Annotations::default())
}

/// The file as `.sc` text, with comments.
pub fn print_annotated(file: &File, annotations: &Annotations) -> String {
    let mut out = String::new();
    for line in &annotations.header {
        out.push_str(&comment(line));
        out.push('\n');
    }
    if !annotations.header.is_empty() {
        out.push('\n');
    }
    for (i, item) in file.items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = match item {
            Item::Block(block) => {
                let params: Vec<String> = block
                    .params
                    .iter()
                    .map(|p| match p {
                        BlockParam::Tensor(name) => name.name.clone(),
                        BlockParam::Int {
                            name,
                            default: None,
                        } => format!("{}: int", name.name),
                        BlockParam::Int {
                            name,
                            default: Some(d),
                        } => format!("{}: int = {}", name.name, expr(d)),
                    })
                    .collect();
                let _ = writeln!(out, "block {}({}) {{", block.name.name, params.join(", "));
                &block.body
            }
            Item::Model(model) => {
                let inputs: Vec<String> = model
                    .inputs
                    .iter()
                    .map(|input| {
                        let dims: Vec<String> =
                            input.dims.iter().map(|(d, _)| d.to_string()).collect();
                        format!("{}: [{}]", input.name.name, dims.join(", "))
                    })
                    .collect();
                let _ = writeln!(out, "model {}({}) {{", model.name.name, inputs.join(", "));
                &model.body
            }
        };
        for stmt in body {
            match stmt {
                Stmt::Let { name, value, .. } => {
                    let _ = write!(out, "    let {} = {};", name.name, expr(value));
                    if let Some(note) = annotations.lets.get(&name.name) {
                        let _ = write!(out, " {}", comment(note));
                    }
                }
                Stmt::Return { values, .. } => {
                    let values: Vec<String> = values.iter().map(expr).collect();
                    let _ = write!(out, "    return {};", values.join(", "));
                }
            }
            out.push('\n');
        }
        out.push_str("}\n");
    }
    out
}

/// `// text`, with any line break in `text` continued as another comment line.
fn comment(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| format!("// {l}").trim_end().to_string())
        .collect();
    if lines.is_empty() {
        "//".to_string()
    } else {
        lines.join("\n")
    }
}

/// Binding strength: `+ -` 1, `* /` 2, prefix `-` 3, atoms 4.
fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Add | BinOp::Sub => 1,
        BinOp::Mul | BinOp::Div => 2,
    }
}

fn expr(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0);
    out
}

/// Writes `e`, parenthesised if it binds more loosely than `min`.
fn write_expr(out: &mut String, e: &Expr, min: u8) {
    match &e.kind {
        ExprKind::Int(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Float(v) => {
            // `{:?}` is the shortest text that reads back as the same f64, always with a `.`
            // or an exponent, so it lexes as a float.
            let _ = write!(out, "{v:?}");
        }
        ExprKind::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        ExprKind::Bool(v) => {
            let _ = write!(out, "{v}");
        }
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Neg(inner) => {
            let wrap = min > 3;
            if wrap {
                out.push('(');
            }
            out.push('-');
            write_expr(out, inner, 3);
            if wrap {
                out.push(')');
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = precedence(*op);
            let wrap = p < min;
            if wrap {
                out.push('(');
            }
            write_expr(out, lhs, p);
            let _ = write!(out, " {} ", op.symbol());
            // Left associative: a right operand of the same precedence needs parentheses.
            write_expr(out, rhs, p + 1);
            if wrap {
                out.push(')');
            }
        }
        ExprKind::Pair(first, second) => {
            out.push('(');
            write_expr(out, first, 0);
            out.push_str(", ");
            write_expr(out, second, 0);
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, 0);
            }
            out.push(']');
        }
        ExprKind::Index { base, position } => {
            // Postfix: the base is an atom, or parenthesised.
            write_expr(out, base, 4);
            out.push('[');
            write_expr(out, position, 0);
            out.push(']');
        }
        ExprKind::Call(call) => {
            out.push_str(&call.callee.name);
            out.push('(');
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_arg(out, arg);
            }
            out.push(')');
        }
    }
}

fn write_arg(out: &mut String, arg: &Arg) {
    if let Some(keyword) = &arg.keyword {
        out.push_str(&keyword.name);
        out.push('=');
    }
    write_expr(out, &arg.value, 0);
}
