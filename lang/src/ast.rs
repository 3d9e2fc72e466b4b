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
    /// The name, as written.
    pub name: String,
    /// Where the name was written.
    pub span: Span,
}

/// A whole `.sc` file: blocks and models in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The file's items, in source order (never empty after a successful parse).
    pub items: Vec<Item>,
}

/// A top-level item of a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A reusable `block`, instantiated by calling it from a model or another block.
    Block(Block),
    /// A `model`: a network with inputs and outputs.
    Model(Model),
}

/// `model NAME(input: [d0, d1, ...], ...) { stmt* }`
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The model's name.
    pub name: Ident,
    /// The model's inputs, in order (at least one).
    pub inputs: Vec<ModelInput>,
    /// The statements of the body, in order.
    pub body: Vec<Stmt>,
    /// From the `model` keyword to the closing brace.
    pub span: Span,
}

/// `NAME: [d0, d1, ...]`, an f32 tensor input of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInput {
    /// The input's name.
    pub name: Ident,
    /// Each dimension as written, with its span (so a bad dimension can be pointed at).
    pub dims: Vec<(i64, Span)>,
    /// From the name to the closing `]`.
    pub span: Span,
}

/// `block NAME(param, ...) { stmt* }`
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The block's name, by which it is called.
    pub name: Ident,
    /// The parameters, in order (at least one).
    pub params: Vec<BlockParam>,
    /// The statements of the body, in order.
    pub body: Vec<Stmt>,
    /// From the `block` keyword to the closing brace.
    pub span: Span,
}

/// A parameter of a block.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockParam {
    /// A tensor parameter: `x`.
    Tensor(Ident),
    /// An integer parameter: `ch: int` or `stride: int = 1`.
    Int {
        /// The parameter's name.
        name: Ident,
        /// The default value's expression, if any.
        default: Option<Expr>,
    },
}

impl BlockParam {
    /// The parameter's name, whatever its kind.
    pub fn name(&self) -> &Ident {
        match self {
            BlockParam::Tensor(name) => name,
            BlockParam::Int { name, .. } => name,
        }
    }
}

/// A statement of a model's or block's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `let NAME = expr;`
    Let {
        /// The bound name.
        name: Ident,
        /// The bound expression.
        value: Expr,
        /// From `let` to `;`.
        span: Span,
    },
    /// `return expr, ...;`
    Return {
        /// The returned expressions, in order (at least one).
        values: Vec<Expr>,
        /// From `return` to `;`.
        span: Span,
    },
}

impl Stmt {
    /// The whole statement, from its keyword to its `;`.
    pub fn span(&self) -> Span {
        match self {
            Stmt::Let { span, .. } | Stmt::Return { span, .. } => *span,
        }
    }
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (floor division on integers)
    Div,
}

impl BinOp {
    /// The operator as written in source: `+`, `-`, `*` or `/`.
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
    /// What the expression is.
    pub kind: ExprKind,
    /// The whole expression; a parenthesised expression's span includes the parentheses.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal (non-negative: `-3` is `Neg(Int(3))`).
    Int(i64),
    /// A float literal, finite (non-negative: `-1e-5` is `Neg(Float(1e-5))`).
    Float(f64),
    /// A string literal, unescaped.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A reference to a `let` name or a parameter.
    Name(String),
    /// `-e` (an extension of the contract: negative integer and float literals).
    Neg(Box<Expr>),
    /// `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinOp,
        /// The left operand.
        lhs: Box<Expr>,
        /// The right operand.
        rhs: Box<Expr>,
    },
    /// `(a, b)`: height then width.
    Pair(Box<Expr>, Box<Expr>),
    /// `[a, b, ...]`: a list of integer expressions, possibly empty (an extension of the
    /// contract, e.g. `transpose(x, perm=[0, 2, 3, 1])`).
    List(Vec<Expr>),
    /// A call of an op or a block.
    Call(Call),
    /// `base[position]`: one tensor of a block instance that returns several (an
    /// extension of the contract).
    Index {
        /// The indexed expression (a name bound to such an instance, or the call itself).
        base: Box<Expr>,
        /// The position, an integer expression counted from 0.
        position: Box<Expr>,
    },
}

/// `NAME(positional..., key=value...)`
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The called op or block.
    pub callee: Ident,
    /// The arguments, in source order (the parser does not check that positional
    /// arguments come first).
    pub args: Vec<Arg>,
}

/// An argument of a call, positional or keyword.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// `None` for a positional argument, the keyword otherwise.
    pub keyword: Option<Ident>,
    /// The argument's value.
    pub value: Expr,
    /// The whole argument, keyword included.
    pub span: Span,
}
