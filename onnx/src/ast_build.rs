//! Building `.sc` AST nodes (no source text, so every span is empty).

use scc_lang::Span;
use scc_lang::ast::{Arg, BinOp, Call, Expr, ExprKind, Ident};

fn expr(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

pub(crate) fn ident(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: Span::default(),
    }
}

pub(crate) fn name(name: &str) -> Expr {
    expr(ExprKind::Name(name.to_string()))
}

pub(crate) fn int(value: usize) -> Expr {
    expr(ExprKind::Int(value as i64))
}

/// A float literal; negative values are `-literal`, as the parser builds them. The value is
/// the shortest decimal that reads back as the same f32 (`1e-5`, not `9.999999747378752e-6`).
pub(crate) fn float(value: f32) -> Expr {
    let shortest: f64 = format!("{:?}", value.abs()).parse().unwrap_or(0.0);
    let literal = expr(ExprKind::Float(shortest));
    if value.is_sign_negative() {
        expr(ExprKind::Neg(Box::new(literal)))
    } else {
        literal
    }
}

pub(crate) fn string(value: &str) -> Expr {
    expr(ExprKind::Str(value.to_string()))
}

pub(crate) fn boolean(value: bool) -> Expr {
    expr(ExprKind::Bool(value))
}

/// An integer when both are equal, else the pair `(h, w)`.
pub(crate) fn spatial((h, w): (usize, usize)) -> Expr {
    if h == w {
        int(h)
    } else {
        expr(ExprKind::Pair(Box::new(int(h)), Box::new(int(w))))
    }
}

/// The pair `(h, w)`, even when both are equal (an output size reads better as a pair).
pub(crate) fn spatial_pair((h, w): (usize, usize)) -> Expr {
    expr(ExprKind::Pair(Box::new(int(h)), Box::new(int(w))))
}

/// The list `[a, b, ...]` of integers.
pub(crate) fn int_list(values: &[usize]) -> Expr {
    expr(ExprKind::List(values.iter().map(|&v| int(v)).collect()))
}

pub(crate) fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    expr(ExprKind::Binary {
        op,
        lhs: Box::new(lhs),
        rhs: Box::new(rhs),
    })
}

/// `callee(positional..., key=value...)`.
pub(crate) fn call(callee: &str, positional: Vec<Expr>, keywords: Vec<(&str, Expr)>) -> Expr {
    let args = positional
        .into_iter()
        .map(|value| Arg {
            keyword: None,
            value,
            span: Span::default(),
        })
        .chain(keywords.into_iter().map(|(key, value)| Arg {
            keyword: Some(ident(key)),
            value,
            span: Span::default(),
        }))
        .collect();
    expr(ExprKind::Call(Call {
        callee: ident(callee),
        args,
    }))
}
