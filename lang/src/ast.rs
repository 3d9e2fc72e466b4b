//! The abstract syntax tree of a `.sc` file.
//!
//! Every node carries the [`Span`] of the source text it was parsed from, so that later
//! stages (lowering, shape inference, weight checking) can point at the exact location.
//! The AST is untyped: whether a name denotes a tensor or an integer, and whether `+`
//! adds tensors or integers, is decided when a block is instantiated.

use crate::span::Span;

/// An identifier together with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole `.sc` file: blocks and models in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Block(Block),
    Model(Model),
}

/// `model NAME(input: [d0, d1, ...], ...) { stmt* }`
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: Ident,
    pub inputs: Vec<ModelInput>,
    pub body: Vec<Stmt>,
    /// From the `model` keyword to the closing brace.
    pub span: Span,
}

/// `NAME: [d0, d1, ...]`, an f32 tensor input of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    pub name: Ident,
    /// Each dimension as written, with its span (so a bad dimension can be pointed at).
    pub dims: Vec<(i64, Span)>,
    pub span: Span,
}

/// `block NAME(param, ...) { stmt* }`
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub name: Ident,
    pub params: Vec<BlockParam>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockParam {
    /// A tensor parameter: `x`.
    Tensor(Ident),
    /// An integer parameter: `ch: int` or `stride: int = 1`.
    Int { name: Ident, default: Option<Expr> },
}

impl BlockParam {
    pub fn name(&self) -> &Ident {
        match self {
            BlockParam::Tensor(name) => name,
            BlockParam::Int { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `let NAME = expr;`
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `return expr, ...;`
    Return { values: Vec<Expr>, span: Span },
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. } | Stmt::Return { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

/// An expression. Tensor expressions, integer expressions and argument values share one
/// syntax; their meaning is decided during lowering.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Name(String),
    /// `-e` (an extension of the contract: negative integer and float literals).
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `(a, b)`: height then width.
    Pair(Box<Expr>, Box<Expr>),
    Call(Call),
}

/// `NAME(positional..., key=value...)`
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub callee: Ident,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `None` for a positional argument, the keyword otherwise.
    pub keyword: Option<Ident>,
    pub value: Expr,
    /// The whole argument, keyword included.
    pub span: Span,
}
