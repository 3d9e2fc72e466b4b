//! Lowering: instantiate a model of an AST into a [`Graph`].
//!
//! Assumes a parsed [`ast::File`]. Guarantees, on success, a graph in which every node's
//! shape was inferred by [`crate::shape::infer`], every node with weights has a unique
//! weight path following LANGUAGE.md's naming rule, and every input and output is named.
//! Every violation of the language (unknown name or op, bad argument, shape mismatch,
//! weighted op outside a `let`, recursion, ...) is a [`LowerError`] located in the source.

use crate::ir::{
    Arith, ConvAttrs, Graph, LinearAttrs, Node, NodeId, Op, PadAttrs, Pair, Param, ParamValue,
    PoolAttrs, ScalarAttrs, StructuredConvAttrs, UpsampleAttrs, UpsampleMode, format_shape,
};
use crate::shape;
use scc_lang::ast::{self, BinOp, BlockParam, ExprKind, Stmt};
use scc_lang::{Diagnostic, Span};
use scc_runtime::kernels::Activation;
use std::collections::{BTreeMap, HashMap};

/// A located error in the model's source, found while lowering it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.message)]
pub struct LowerError(pub Diagnostic);

impl LowerError {
    fn at(span: Span, message: impl Into<String>, label: impl Into<String>) -> LowerError {
        LowerError(Diagnostic::error(message).with_primary(span, label))
    }

    fn note(mut self, note: impl Into<String>) -> LowerError {
        self.0 = self.0.with_note(note);
        self
    }

    fn secondary(mut self, span: Span, label: impl Into<String>) -> LowerError {
        self.0 = self.0.with_secondary(span, label);
        self
    }
}

type Result<T> = std::result::Result<T, LowerError>;

/// The names of the models a file defines, in source order.
pub fn model_names(file: &ast::File) -> Vec<String> {
    file.items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Model(m) => Some(m.name.name.clone()),
            ast::Item::Block(_) => None,
        })
        .collect()
}

/// What the caller may change about a model when lowering it.
#[derive(Debug, Clone)]
pub struct LowerOptions {
    /// Input shapes that replace the declared ones, by input name (e.g. a larger batch or
    /// another image size). Each must have the declared rank; unknown names are errors.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// The most nodes the lowered graph may have (default [`DEFAULT_MAX_NODES`]): block
    /// instances multiply their nodes, so a short file can describe an exponentially large
    /// graph; lowering stops with an error at the op that would exceed the limit.
    pub max_nodes: usize,
}

/// The default [`LowerOptions::max_nodes`].
pub const DEFAULT_MAX_NODES: usize = 1_000_000;

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            input_shapes: BTreeMap::new(),
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// Lowers the model named `model` (or the file's only model when `None`) into a graph.
pub fn lower(file: &ast::File, model: Option<&str>) -> Result<Graph> {
    lower_with(file, model, &LowerOptions::default())
}

/// [`lower`] with options (input shapes overridden).
pub fn lower_with(file: &ast::File, model: Option<&str>, options: &LowerOptions) -> Result<Graph> {
    let mut blocks: HashMap<&str, &ast::Block> = HashMap::new();
    let mut models: Vec<&ast::Model> = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for item in &file.items {
        let name = match item {
            ast::Item::Block(b) => &b.name,
            ast::Item::Model(m) => &m.name,
        };
        if let Some(previous) = seen.insert(&name.name, name.span) {
            return Err(LowerError::at(
                name.span,
                format!("`{}` is defined twice", name.name),
                "defined again here",
            )
            .secondary(previous, "first defined here"));
        }
        match item {
            ast::Item::Block(b) => {
                if BUILTIN_OPS.contains(&b.name.name.as_str()) {
                    return Err(LowerError::at(
                        b.name.span,
                        format!("block `{}` has the name of a built-in op", b.name.name),
                        "choose another name",
                    ));
                }
                blocks.insert(&b.name.name, b);
            }
            ast::Item::Model(m) => models.push(m),
        }
    }
    let chosen = match model {
        Some(wanted) => models
            .iter()
            .copied()
            .find(|m| m.name.name == wanted)
            .ok_or_else(|| {
                let available: Vec<String> = models
                    .iter()
                    .map(|m| format!("`{}`", m.name.name))
                    .collect();
                LowerError(
                    Diagnostic::error(format!("no model named `{wanted}` in this file"))
                        .with_note(format!("the file defines: {}", or_none(&available))),
                )
            })?,
        None => match models.as_slice() {
            [only] => *only,
            [] => {
                return Err(LowerError(
                    Diagnostic::error("the file defines no `model`")
                        .with_note("a file needs at least one `model NAME(input: [...]) { ... }`"),
                ));
            }
            many => {
                let names: Vec<String> =
                    many.iter().map(|m| format!("`{}`", m.name.name)).collect();
                return Err(LowerError::at(
                    many[1].name.span,
                    format!(
                        "the file defines {} models; choose one with --model NAME",
                        many.len()
                    ),
                    "another model",
                )
                .note(format!("the models are: {}", names.join(", "))));
            }
        },
    };
    let mut lowerer = Lowerer {
        blocks,
        graph: Graph::new(&chosen.name.name),
        instances: Vec::new(),
        generated: 0,
        max_nodes: options.max_nodes,
    };
    lowerer.lower_model(chosen, &options.input_shapes)?;
    Ok(lowerer.graph)
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no models".to_string()
    } else {
        items.join(", ")
    }
}

/// Every built-in op name of the language.
pub const BUILTIN_OPS: &[&str] = &[
    "conv2d",
    "sconv2d",
    "linear",
    "slinear",
    "batchnorm",
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "silu",
    "hardswish",
    "hardsigmoid",
    "maxpool",
    "avgpool",
    "sumpool",
    "global_avgpool",
    "flatten",
    "softmax",
    "concat",
    "upsample",
    "clamp",
    "leaky_relu",
    "pad",
    "affine",
    "transpose",
];

#[derive(Debug, Clone)]
enum Value {
    Tensor(NodeId),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Pair(i64, i64),
    /// `[a, b, ...]`, each entry with its span.
    List(Vec<(i64, Span)>),
    /// The results of a block instance that returns several tensors, indexed by `x[i]`.
    Tuple(Vec<NodeId>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Tensor(_) => "a tensor",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Pair(..) => "a pair",
            Value::List(_) => "a list",
            Value::Tuple(_) => "a tuple of tensors",
        }
    }
}

/// The names visible in one model or block instance.
struct Scope {
    values: HashMap<String, (Value, Span)>,
    /// Weight path prefix (`layer1.`), or `None` inside a block instance not bound by a `let`.
    weight_prefix: Option<String>,
    /// Display-name prefix for nodes created in this scope.
    name_prefix: String,
}

impl Scope {
    fn define(&mut self, name: &ast::Ident, value: Value) -> Result<()> {
        if let Some((_, previous)) = self.values.get(&name.name) {
            return Err(LowerError::at(
                name.span,
                format!("`{}` is already defined", name.name),
                "defined again here",
            )
            .secondary(*previous, "first defined here")
            .note("every name is unique within its model or block: no shadowing"));
        }
        self.values.insert(name.name.clone(), (value, name.span));
        Ok(())
    }
}

/// A block instance being lowered: for recursion checks and error context.
struct Instance {
    block: String,
    call_span: Span,
}

struct Lowerer<'a> {
    blocks: HashMap<&'a str, &'a ast::Block>,
    graph: Graph,
    instances: Vec<Instance>,
    generated: usize,
    max_nodes: usize,
}

/// Nesting limit of block instances (a guard against runaway instantiation).
const MAX_INSTANCE_DEPTH: usize = 64;

impl<'a> Lowerer<'a> {
    fn lower_model(
        &mut self,
        model: &'a ast::Model,
        input_shapes: &BTreeMap<String, Vec<usize>>,
    ) -> Result<()> {
        let mut scope = Scope {
            values: HashMap::new(),
            weight_prefix: Some(String::new()),
            name_prefix: String::new(),
        };
        let declared: Vec<&str> = model.inputs.iter().map(|i| i.name.name.as_str()).collect();
        for name in input_shapes.keys() {
            if !declared.contains(&name.as_str()) {
                let names: Vec<String> = declared.iter().map(|n| format!("`{n}`")).collect();
                return Err(LowerError::at(
                    model.name.span,
                    format!(
                        "model `{}` has no input `{name}` to give a shape",
                        model.name.name
                    ),
                    "this model",
                )
                .note(format!("its inputs are: {}", names.join(", "))));
            }
        }
        for input in &model.inputs {
            if let Some(shape) = input_shapes.get(&input.name.name) {
                if shape.len() != input.dims.len() {
                    return Err(LowerError::at(
                        input.span,
                        format!(
                            "the shape given for input `{}` has rank {}, the model declares rank {}",
                            input.name.name,
                            shape.len(),
                            input.dims.len()
                        ),
                        "declared here",
                    ));
                }
                if let Some(bad) = shape
                    .iter()
                    .find(|&&d| !(1..=MAX_DIM as usize).contains(&d))
                {
                    return Err(LowerError::at(
                        input.span,
                        format!(
                            "the shape given for input `{}` has dimension {bad}, out of range",
                            input.name.name
                        ),
                        format!("expected dimensions from 1 to {MAX_DIM}"),
                    ));
                }
                let id = self
                    .graph
                    .add_input(&input.name.name, shape.clone(), input.span);
                scope.define(&input.name, Value::Tensor(id))?;
                continue;
            }
            if input.dims.len() != 2 && input.dims.len() != 4 {
                return Err(LowerError::at(
                    input.span,
                    format!("input `{}` has rank {}", input.name.name, input.dims.len()),
                    "expected rank 2 [N, F] or rank 4 [N, C, H, W]",
                ));
            }
            let mut shape = Vec::with_capacity(input.dims.len());
            for &(dim, span) in &input.dims {
                if !(1..=MAX_DIM).contains(&dim) {
                    return Err(LowerError::at(
                        span,
                        format!("input dimension {dim} is out of range"),
                        format!("expected an integer from 1 to {MAX_DIM}"),
                    ));
                }
                shape.push(dim as usize);
            }
            let id = self.graph.add_input(&input.name.name, shape, input.span);
            scope.define(&input.name, Value::Tensor(id))?;
        }
        let returned = self.lower_body(&model.body, &mut scope, model.span, &model.name.name)?;
        // An output is named by its identifier, else (an expression, or a name returned a
        // second time, as `return c, c`) `output<position>`.
        let mut names: HashMap<String, (Span, bool)> = HashMap::new();
        for (i, expr) in returned.iter().enumerate() {
            let id = self.expect_tensor(expr, &mut scope, "a model output")?;
            let (name, by_identifier) = match &expr.kind {
                ExprKind::Name(name) if !matches!(names.get(name), Some((_, true))) => {
                    (name.clone(), true)
                }
                _ => (format!("output{i}"), false),
            };
            if let Some((previous, previous_by_identifier)) =
                names.insert(name.clone(), (expr.span, by_identifier))
            {
                let how = |by_identifier: bool| {
                    if by_identifier {
                        "named by its identifier"
                    } else {
                        "named by its position"
                    }
                };
                return Err(LowerError::at(
                    expr.span,
                    format!("two outputs are named `{name}`"),
                    format!("output {i}, {}", how(by_identifier)),
                )
                .secondary(previous, format!("an earlier output, {}", how(previous_by_identifier)))
                .note("an output is named by its identifier when it is a bare name, else `output<position>`: rename the `let`"));
            }
            self.graph.add_output(&name, id);
        }
        Ok(())
    }

    /// Lowers `let` statements and returns the expressions of the final `return`.
    fn lower_body(
        &mut self,
        body: &'a [Stmt],
        scope: &mut Scope,
        owner_span: Span,
        owner: &str,
    ) -> Result<&'a [ast::Expr]> {
        let mut returned = None;
        for stmt in body {
            if let Some(ret_span) = returned.map(|(_, span)| span) {
                return Err(
                    LowerError::at(stmt.span(), "statement after `return`", "unreachable")
                        .secondary(ret_span, "the `return` must be the last statement"),
                );
            }
            match stmt {
                Stmt::Let { name, value, .. } => {
                    let value = self.eval(value, scope, Some(name))?;
                    scope.define(name, value)?;
                }
                Stmt::Return { values, span } => returned = Some((values.as_slice(), *span)),
            }
        }
        returned.map(|(values, _)| values).ok_or_else(|| {
            LowerError::at(
                owner_span,
                format!("`{owner}` has no `return` statement"),
                "missing `return`",
            )
            .note("the last statement must be `return EXPR;`")
        })
    }

    fn expect_tensor(
        &mut self,
        expr: &'a ast::Expr,
        scope: &mut Scope,
        what: &str,
    ) -> Result<NodeId> {
        match self.eval(expr, scope, None)? {
            Value::Tensor(id) => Ok(id),
            other => Err(tensor_expected(expr.span, what, &other)),
        }
    }

    /// Evaluates an expression. `let_name` is set when `expr` is the whole right-hand side
    /// of a `let`: only then may an op with weights (or a block holding them) appear.
    fn eval(
        &mut self,
        expr: &'a ast::Expr,
        scope: &mut Scope,
        let_name: Option<&ast::Ident>,
    ) -> Result<Value> {
        match &expr.kind {
            ExprKind::Int(v) => Ok(Value::Int(*v)),
            ExprKind::Float(v) => Ok(Value::Float(*v)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Name(name) => match scope.values.get(name) {
                Some((value, _)) => Ok(value.clone()),
                None => {
                    let candidates: Vec<&str> = scope.values.keys().map(String::as_str).collect();
                    let mut err = LowerError::at(
                        expr.span,
                        format!("unknown name `{name}`"),
                        "not defined here",
                    );
                    if let Some(similar) = closest(name, &candidates) {
                        err = err.note(format!("did you mean `{similar}`?"));
                    }
                    Err(err)
                }
            },
            ExprKind::Neg(inner) => match self.eval(inner, scope, None)? {
                Value::Int(v) => v
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or_else(|| overflow(expr.span)),
                Value::Float(v) => Ok(Value::Float(-v)),
                other => Err(LowerError::at(
                    expr.span,
                    format!("cannot negate {}", other.kind()),
                    "only numbers can be negated",
                )),
            },
            ExprKind::Pair(a, b) => {
                let h = self.eval_int(a, scope)?;
                let w = self.eval_int(b, scope)?;
                Ok(Value::Pair(h, w))
            }
            ExprKind::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push((self.eval_int(item, scope)?, item.span));
                }
                Ok(Value::List(values))
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let left = self.eval(lhs, scope, None)?;
                let right = self.eval(rhs, scope, None)?;
                let arith = match op {
                    BinOp::Add => Arith::Add,
                    BinOp::Sub => Arith::Sub,
                    BinOp::Mul => Arith::Mul,
                    BinOp::Div => Arith::Div,
                };
                match (left, right) {
                    (Value::Int(a), Value::Int(b)) => {
                        int_arith(*op, a, b, expr.span, rhs.span).map(Value::Int)
                    }
                    (Value::Tensor(a), Value::Tensor(b)) => {
                        let ir_op = match arith {
                            Arith::Add => Op::Add,
                            Arith::Sub => Op::Sub,
                            Arith::Mul => Op::Mul,
                            Arith::Div => Op::Div,
                        };
                        self.add_op(ir_op, &[a, b], expr.span, scope, let_name)
                            .map(Value::Tensor)
                    }
                    (Value::Tensor(x), Value::Int(v)) => self.scalar(
                        arith, x, v as f64, false, rhs.span, expr.span, scope, let_name,
                    ),
                    (Value::Tensor(x), Value::Float(v)) => {
                        self.scalar(arith, x, v, false, rhs.span, expr.span, scope, let_name)
                    }
                    (Value::Int(v), Value::Tensor(x)) => self.scalar(
                        arith, x, v as f64, true, lhs.span, expr.span, scope, let_name,
                    ),
                    (Value::Float(v), Value::Tensor(x)) => {
                        self.scalar(arith, x, v, true, lhs.span, expr.span, scope, let_name)
                    }
                    (a, b) => Err(LowerError::at(
                        expr.span,
                        format!(
                            "cannot apply `{}` to {} and {}",
                            op.symbol(),
                            a.kind(),
                            b.kind()
                        ),
                        "operands of different kinds",
                    )
                    .note("arithmetic takes two tensors, two integers, or a tensor and a number")),
                }
            }
            ExprKind::Call(call) => self.lower_call(call, expr.span, scope, let_name),
            ExprKind::Index { base, position } => {
                let tuple = self.eval(base, scope, let_name)?;
                let at = self.eval_int(position, scope)?;
                let Value::Tuple(ids) = tuple else {
                    return Err(LowerError::at(
                        base.span,
                        format!("cannot index {}", tuple.kind()),
                        format!("this is {}", tuple.kind()),
                    )
                    .note("only the instance of a block that returns several tensors is indexed"));
                };
                match usize::try_from(at).ok().and_then(|i| ids.get(i)) {
                    Some(&id) => Ok(Value::Tensor(id)),
                    None => Err(LowerError::at(
                        position.span,
                        format!("index {at} is out of range"),
                        format!("expected 0 to {}", ids.len() - 1),
                    )
                    .secondary(base.span, format!("this holds {} tensors", ids.len()))),
                }
            }
        }
    }

    /// `x ∘ value` (or `value ∘ x`): a tensor and a number.
    #[allow(clippy::too_many_arguments)]
    fn scalar(
        &mut self,
        op: Arith,
        x: NodeId,
        value: f64,
        value_first: bool,
        value_span: Span,
        span: Span,
        scope: &mut Scope,
        let_name: Option<&ast::Ident>,
    ) -> Result<Value> {
        let value = finite_f32(value, value_span, "the constant")?;
        let op = Op::Scalar(ScalarAttrs {
            op,
            value,
            value_first,
        });
        self.add_op(op, &[x], span, scope, let_name)
            .map(Value::Tensor)
    }

    fn eval_int(&mut self, expr: &'a ast::Expr, scope: &mut Scope) -> Result<i64> {
        match self.eval(expr, scope, None)? {
            Value::Int(v) => Ok(v),
            other => Err(LowerError::at(
                expr.span,
                format!("expected an integer, found {}", other.kind()),
                format!("this is {}", other.kind()),
            )),
        }
    }

    fn lower_call(
        &mut self,
        call: &'a ast::Call,
        span: Span,
        scope: &mut Scope,
        let_name: Option<&ast::Ident>,
    ) -> Result<Value> {
        let callee = call.callee.name.as_str();
        if BUILTIN_OPS.contains(&callee) {
            let (op, operands) = self.builtin_op(call, scope)?;
            return self
                .add_op(op, &operands, span, scope, let_name)
                .map(Value::Tensor);
        }
        if let Some(block) = self.blocks.get(callee).copied() {
            return self.instantiate(block, call, span, scope, let_name);
        }
        let mut known: Vec<&str> = BUILTIN_OPS.to_vec();
        known.extend(self.blocks.keys().copied());
        let mut err = LowerError::at(
            call.callee.span,
            format!("unknown op `{callee}`"),
            "not an op or a block",
        );
        if let Some(similar) = closest(callee, &known) {
            err = err.note(format!("did you mean `{similar}`?"));
        }
        Err(err.note(format!("the built-in ops are: {}", BUILTIN_OPS.join(", "))))
    }

    /// Creates a node, inferring its shape and naming it (and its weights).
    fn add_op(
        &mut self,
        op: Op,
        operands: &[NodeId],
        span: Span,
        scope: &Scope,
        let_name: Option<&ast::Ident>,
    ) -> Result<NodeId> {
        if self.graph.node_count() >= self.max_nodes {
            return Err(self.in_context(
                LowerError::at(
                    span,
                    format!("the model has more than {} nodes", self.max_nodes),
                    "the node over the limit",
                )
                .note("block instances multiply their nodes: each call of a block adds all of its ops")
                .note("raise the limit with --max-nodes N"),
            ));
        }
        let shapes: Vec<&Vec<usize>> = operands
            .iter()
            .map(|&id| &self.graph.node(id).shape)
            .collect();
        let shape = shape::infer(&op, &shapes).map_err(|message| {
            let found: Vec<String> = shapes.iter().map(|s| format_shape(s)).collect();
            self.in_context(LowerError::at(
                span,
                message,
                format!("operands: {}", found.join(", ")),
            ))
        })?;
        let weight_path = if op.has_weights() {
            let Some(let_name) = let_name else {
                return Err(self.in_context(
                    LowerError::at(
                        span,
                        format!("`{}` has weights, so it must be the whole right-hand side of a `let`", op.name()),
                        "op with weights used inside an expression",
                    )
                    .note("its weights are named after the `let`: `let conv = conv2d(...);` reads `conv.weight`"),
                ));
            };
            match &scope.weight_prefix {
                Some(prefix) => Some(format!("{prefix}{}", let_name.name)),
                None => {
                    let instance = self
                        .instances
                        .last()
                        .expect("anonymous scopes are block instances");
                    return Err(LowerError::at(
                        span,
                        format!(
                            "`{}` has weights, but this instance of block `{}` is not bound by a `let`",
                            op.name(),
                            instance.block
                        ),
                        "its weights would have no name",
                    )
                    .secondary(instance.call_span, "make this call the whole right-hand side of a `let`")
                    .note("weights are named `<let names of the enclosing block instances>.<let name>.<suffix>`"));
                }
            }
        } else {
            None
        };
        let name = match let_name {
            Some(let_name) => format!("{}{}", scope.name_prefix, let_name.name),
            None => {
                self.generated += 1;
                let op_name = match &op {
                    Op::Add | Op::Scalar(ScalarAttrs { op: Arith::Add, .. }) => "add",
                    Op::Mul | Op::Scalar(ScalarAttrs { op: Arith::Mul, .. }) => "mul",
                    Op::Sub | Op::Scalar(ScalarAttrs { op: Arith::Sub, .. }) => "sub",
                    Op::Div | Op::Scalar(ScalarAttrs { op: Arith::Div, .. }) => "div",
                    _ => op.name(),
                };
                format!("{}{}#{}", scope.name_prefix, op_name, self.generated)
            }
        };
        let params = match &weight_path {
            Some(path) => {
                let input = shapes
                    .first()
                    .map(|s| s.as_slice())
                    .unwrap_or_default()
                    .to_vec();
                crate::weights::op_weights(&op, &input)
                    .into_iter()
                    .map(|(suffix, shape, role)| {
                        self.graph.add_param(Param {
                            name: format!("{path}.{suffix}"),
                            shape,
                            role,
                            value: ParamValue::External,
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Ok(self.graph.add_node(
            Node {
                op,
                shape,
                name,
                weight_path,
                params,
                span,
            },
            operands,
        ))
    }

    /// Adds "in this instance of block ..." context to an error raised inside a block.
    fn in_context(&self, mut err: LowerError) -> LowerError {
        for instance in self.instances.iter().rev() {
            err = err.secondary(
                instance.call_span,
                format!("in this instance of block `{}`", instance.block),
            );
        }
        err
    }

    fn instantiate(
        &mut self,
        block: &'a ast::Block,
        call: &'a ast::Call,
        span: Span,
        caller: &mut Scope,
        let_name: Option<&ast::Ident>,
    ) -> Result<Value> {
        if self.instances.iter().any(|i| i.block == block.name.name) {
            return Err(self.in_context(
                LowerError::at(
                    span,
                    format!("block `{}` instantiates itself", block.name.name),
                    "recursive instantiation",
                )
                .note("blocks cannot be recursive"),
            ));
        }
        if self.instances.len() >= MAX_INSTANCE_DEPTH {
            return Err(LowerError::at(
                span,
                "blocks are nested too deeply",
                format!("more than {MAX_INSTANCE_DEPTH} levels"),
            ));
        }
        // Bind arguments to parameters: positional first, then keywords.
        let mut bound: Vec<Option<(Value, Span)>> = vec![None; block.params.len()];
        let mut seen_keyword = false;
        let mut positional = 0;
        for arg in &call.args {
            let index = match &arg.keyword {
                None => {
                    if seen_keyword {
                        return Err(LowerError::at(
                            arg.span,
                            "positional argument after a keyword argument",
                            "move it before the keyword arguments",
                        ));
                    }
                    positional += 1;
                    if positional > block.params.len() {
                        return Err(LowerError::at(
                            arg.span,
                            format!(
                                "block `{}` takes {} argument(s), found more",
                                block.name.name,
                                block.params.len()
                            ),
                            "unexpected argument",
                        )
                        .secondary(block.name.span, "block defined here"));
                    }
                    positional - 1
                }
                Some(keyword) => {
                    seen_keyword = true;
                    block
                        .params
                        .iter()
                        .position(|p| p.name().name == keyword.name)
                        .ok_or_else(|| {
                            let names: Vec<&str> = block
                                .params
                                .iter()
                                .map(|p| p.name().name.as_str())
                                .collect();
                            LowerError::at(
                                keyword.span,
                                format!(
                                    "block `{}` has no parameter `{}`",
                                    block.name.name, keyword.name
                                ),
                                "unknown parameter",
                            )
                            .note(format!("its parameters are: {}", names.join(", ")))
                        })?
                }
            };
            if bound[index].is_some() {
                return Err(LowerError::at(
                    arg.span,
                    format!(
                        "parameter `{}` is given twice",
                        block.params[index].name().name
                    ),
                    "given again here",
                ));
            }
            let value = self.eval(&arg.value, caller, None)?;
            bound[index] = Some((value, arg.value.span));
        }
        let (weight_prefix, name_prefix) = match (let_name, &caller.weight_prefix) {
            (Some(name), Some(prefix)) => (
                Some(format!("{prefix}{}.", name.name)),
                format!("{}{}.", caller.name_prefix, name.name),
            ),
            (Some(name), None) => (None, format!("{}{}.", caller.name_prefix, name.name)),
            (None, _) => {
                self.generated += 1;
                (
                    None,
                    format!(
                        "{}{}#{}.",
                        caller.name_prefix, block.name.name, self.generated
                    ),
                )
            }
        };
        let mut scope = Scope {
            values: HashMap::new(),
            weight_prefix,
            name_prefix,
        };
        self.instances.push(Instance {
            block: block.name.name.clone(),
            call_span: span,
        });
        let result = self.lower_block_body(block, bound, &mut scope, span);
        self.instances.pop();
        result
    }

    fn lower_block_body(
        &mut self,
        block: &'a ast::Block,
        bound: Vec<Option<(Value, Span)>>,
        scope: &mut Scope,
        call_span: Span,
    ) -> Result<Value> {
        for (param, value) in block.params.iter().zip(bound) {
            let value = match (param, value) {
                (BlockParam::Tensor(_), Some((value @ Value::Tensor(_), _))) => value,
                (BlockParam::Int { .. }, Some((value @ Value::Int(_), _))) => value,
                (
                    BlockParam::Int {
                        default: Some(default),
                        ..
                    },
                    None,
                ) => Value::Int(
                    self.eval_int(default, scope)
                        .map_err(|e| self.in_context(e))?,
                ),
                (param, Some((value, span))) => {
                    let expected = match param {
                        BlockParam::Tensor(_) => "a tensor",
                        BlockParam::Int { .. } => "an integer",
                    };
                    return Err(LowerError::at(
                        span,
                        format!(
                            "parameter `{}` of block `{}` expects {expected}, found {}",
                            param.name().name,
                            block.name.name,
                            value.kind()
                        ),
                        format!("this is {}", value.kind()),
                    )
                    .secondary(param.name().span, "parameter declared here"));
                }
                (param, None) => {
                    return Err(LowerError::at(
                        call_span,
                        format!(
                            "missing argument `{}` of block `{}`",
                            param.name().name,
                            block.name.name
                        ),
                        "argument missing in this call",
                    )
                    .secondary(param.name().span, "parameter declared here"));
                }
            };
            scope.define(param.name(), value)?;
        }
        let returned = self.lower_body(&block.body, scope, block.span, &block.name.name)?;
        match returned {
            [single] => {
                let id = self.expect_tensor(single, scope, "the block's result")?;
                Ok(Value::Tensor(id))
            }
            many => {
                let mut ids = Vec::with_capacity(many.len());
                for value in many {
                    ids.push(self.expect_tensor(value, scope, "a block's result")?);
                }
                Ok(Value::Tuple(ids))
            }
        }
    }

    /// Checks a built-in op's arguments and builds its IR op and operand list.
    fn builtin_op(&mut self, call: &'a ast::Call, scope: &mut Scope) -> Result<(Op, Vec<NodeId>)> {
        use ParamKind::*;
        let name = call.callee.name.as_str();
        if name == "concat" {
            return self.concat(call, scope);
        }
        let specs: &[(&str, ParamKind)] = match name {
            "conv2d" => &[
                ("x", Tensor),
                ("out", Int),
                ("kernel", Spatial),
                ("stride", Optional(&Spatial)),
                ("pad", Optional(&Spatial)),
                ("dilation", Optional(&Spatial)),
                ("groups", Optional(&Int)),
                ("bias", Optional(&Bool)),
            ],
            "sconv2d" => &[
                ("x", Tensor),
                ("out", Int),
                ("kernel", Spatial),
                ("c", Int),
                ("n", Spatial),
                ("stride", Optional(&Spatial)),
                ("pad", Optional(&Spatial)),
                ("groups", Optional(&Int)),
                ("bias", Optional(&Bool)),
            ],
            "linear" => &[("x", Tensor), ("out", Int), ("bias", Optional(&Bool))],
            "slinear" => &[
                ("x", Tensor),
                ("out", Int),
                ("c", Int),
                ("bias", Optional(&Bool)),
            ],
            "batchnorm" => &[
                ("x", Tensor),
                ("eps", Optional(&Float)),
                ("training", Optional(&Bool)),
            ],
            "sumpool" => &[
                ("x", Tensor),
                ("kernel", Spatial),
                ("stride", Optional(&Spatial)),
                ("pad", Optional(&Spatial)),
            ],
            "maxpool" => &[
                ("x", Tensor),
                ("kernel", Spatial),
                ("stride", Optional(&Spatial)),
                ("pad", Optional(&Spatial)),
                ("ceil_mode", Optional(&Bool)),
            ],
            "avgpool" => &[
                ("x", Tensor),
                ("kernel", Spatial),
                ("stride", Optional(&Spatial)),
                ("pad", Optional(&Spatial)),
                ("ceil_mode", Optional(&Bool)),
                ("count_include_pad", Optional(&Bool)),
            ],
            "upsample" => &[
                ("x", Tensor),
                ("scale", Optional(&Float)),
                ("mode", Optional(&Str)),
                ("size", Optional(&Spatial)),
                ("align_corners", Optional(&Bool)),
            ],
            "clamp" => &[
                ("x", Tensor),
                ("min", Optional(&Float)),
                ("max", Optional(&Float)),
            ],
            "leaky_relu" => &[("x", Tensor), ("slope", Optional(&Float))],
            "pad" => &[
                ("x", Tensor),
                ("top", Optional(&Int)),
                ("left", Optional(&Int)),
                ("bottom", Optional(&Int)),
                ("right", Optional(&Int)),
                ("value", Optional(&Float)),
            ],
            "affine" => &[("x", Tensor), ("bias", Optional(&Bool))],
            "transpose" => &[("x", Tensor), ("perm", Optional(&IntList))],
            _ => &[("x", Tensor)],
        };
        let args = self.bind_args(call, specs, scope)?;
        let x = args.tensor("x");
        let op = match name {
            "conv2d" => Op::Conv2d(ConvAttrs {
                out_channels: args.count("out", 1)?,
                kernel: args.pair("kernel", 1, None)?,
                stride: args.pair("stride", 1, Some((1, 1)))?,
                pad: args.pair("pad", 0, Some((0, 0)))?,
                dilation: args.pair("dilation", 1, Some((1, 1)))?,
                groups: args.count_or("groups", 1, 1)?,
                bias: args.bool_or("bias", false),
                epilogue: Vec::new(),
                dense_taps: None,
                execution: None,
            }),
            "sconv2d" => Op::StructuredConv2d(StructuredConvAttrs {
                out_channels: args.count("out", 1)?,
                kernel: args.pair("kernel", 1, None)?,
                c: args.count("c", 1)?,
                n: args.pair("n", 1, None)?,
                stride: args.pair("stride", 1, Some((1, 1)))?,
                pad: args.pair("pad", 0, Some((0, 0)))?,
                groups: args.count_or("groups", 1, 1)?,
                bias: args.bool_or("bias", false),
                execution: None,
            }),
            "linear" => Op::Linear(LinearAttrs {
                out_features: args.count("out", 1)?,
                bias: args.bool_or("bias", true),
                epilogue: Vec::new(),
                dense_taps: None,
            }),
            "slinear" => Op::StructuredLinear {
                out_features: args.count("out", 1)?,
                c: args.count("c", 1)?,
                bias: args.bool_or("bias", true),
            },
            "batchnorm" => {
                let eps = args.float_or("eps", 1e-5);
                if !(eps > 0.0 && eps.is_finite()) {
                    return Err(LowerError::at(
                        args.span("eps"),
                        format!("`eps` must be positive, found {eps}"),
                        "invalid eps",
                    ));
                }
                if args.bool_or("training", false) {
                    Op::BatchNormTraining { eps: eps as f32 }
                } else {
                    Op::BatchNorm { eps: eps as f32 }
                }
            }
            "maxpool" | "avgpool" | "sumpool" => {
                let kernel = args.pair("kernel", 1, None)?;
                let default_stride = if name == "sumpool" { (1, 1) } else { kernel };
                let mut attrs = PoolAttrs::new(
                    kernel,
                    args.pair("stride", 1, Some(default_stride))?,
                    args.pair("pad", 0, Some((0, 0)))?,
                );
                attrs.ceil_mode = args.bool_or("ceil_mode", false);
                attrs.count_include_pad = args.bool_or("count_include_pad", true);
                match name {
                    "maxpool" => Op::MaxPool(attrs),
                    "avgpool" => Op::AvgPool(attrs),
                    _ => Op::SumPool(attrs),
                }
            }
            "upsample" => {
                let mode = match args.str_or("mode", "nearest") {
                    "nearest" => UpsampleMode::Nearest,
                    "nearest-exact" => UpsampleMode::NearestExact,
                    "bilinear" => UpsampleMode::Bilinear,
                    other => {
                        return Err(LowerError::at(
                            args.span("mode"),
                            format!("unknown upsample mode \"{other}\""),
                            "expected \"nearest\", \"nearest-exact\" or \"bilinear\"",
                        ));
                    }
                };
                let align_corners = args.bool_or("align_corners", false);
                if align_corners && mode != UpsampleMode::Bilinear {
                    return Err(LowerError::at(
                        args.span("align_corners"),
                        format!(
                            "`align_corners` applies to mode \"bilinear\" only, not \"{}\"",
                            mode.name()
                        ),
                        "remove it or use mode=\"bilinear\"",
                    ));
                }
                let input = &self.graph.node(x).shape;
                let (scale, size) = match (args.has("scale"), args.has("size")) {
                    (true, true) => {
                        return Err(LowerError::at(
                            args.span("size"),
                            "`upsample` takes `scale` or `size`, not both",
                            "remove one of them",
                        ));
                    }
                    (false, false) => {
                        return Err(LowerError::at(
                            args.call_span,
                            "`upsample` needs `scale` (an integer factor) or `size` (the output height and width)",
                            "neither is given",
                        ));
                    }
                    (true, false) => {
                        let scale = args.float_or("scale", 1.0);
                        let size = match input.as_slice() {
                            [_, _, h, w] => {
                                (shape::scaled_size(*h, scale), shape::scaled_size(*w, scale))
                            }
                            _ => (1, 1), // the shape rule reports the rank
                        };
                        if !(scale > 0.0 && scale <= MAX_DIM as f64)
                            || size.0 == 0
                            || size.1 == 0
                            || size.0 > MAX_DIM as usize
                            || size.1 > MAX_DIM as usize
                        {
                            return Err(LowerError::at(
                                args.span("scale"),
                                format!(
                                    "`scale` {scale} gives an output of {} x {}",
                                    size.0, size.1
                                ),
                                format!("expected an output from 1 to {MAX_DIM} on each axis"),
                            ));
                        }
                        (Some(scale), size)
                    }
                    (false, true) => (None, args.pair("size", 1, None)?),
                };
                Op::Upsample(UpsampleAttrs {
                    size,
                    scale,
                    mode,
                    align_corners,
                })
            }
            "clamp" => {
                if !args.has("min") && !args.has("max") {
                    return Err(LowerError::at(
                        args.call_span,
                        "`clamp` needs `min`, `max` or both",
                        "no bound given",
                    ));
                }
                let bound = |name: &str, default: f32| -> Result<f32> {
                    if args.has(name) {
                        let v = args.float_or(name, 0.0);
                        let single = v as f32;
                        if single.is_nan() {
                            return Err(LowerError::at(
                                args.span(name),
                                format!("`{name}` is NaN"),
                                "not a number",
                            ));
                        }
                        Ok(single)
                    } else {
                        Ok(default)
                    }
                };
                Op::Clamp {
                    min: bound("min", f32::NEG_INFINITY)?,
                    max: bound("max", f32::INFINITY)?,
                }
            }
            "leaky_relu" => Op::LeakyRelu {
                slope: finite_f32(args.float_or("slope", 0.01), args.span("slope"), "`slope`")?,
            },
            "pad" => Op::Pad(PadAttrs {
                top: args.count_or("top", 0, 0)?,
                left: args.count_or("left", 0, 0)?,
                bottom: args.count_or("bottom", 0, 0)?,
                right: args.count_or("right", 0, 0)?,
                value: finite_f32(args.float_or("value", 0.0), args.span("value"), "`value`")?,
            }),
            "affine" => Op::Affine {
                bias: args.bool_or("bias", true),
            },
            "transpose" => Op::Transpose {
                // The permutation may depend on the block instance's integers: say which.
                perm: args
                    .permutation("perm", &self.graph.node(x).shape)
                    .map_err(|err| self.in_context(err))?,
            },
            "relu" => Op::Activation(Activation::Relu),
            "relu6" => Op::Activation(Activation::Relu6),
            "sigmoid" => Op::Activation(Activation::Sigmoid),
            "tanh" => Op::Activation(Activation::Tanh),
            "silu" => Op::Activation(Activation::Silu),
            "hardswish" => Op::Activation(Activation::Hardswish),
            "hardsigmoid" => Op::Activation(Activation::Hardsigmoid),
            "global_avgpool" => Op::GlobalAvgPool,
            "flatten" => Op::Flatten,
            "softmax" => Op::Softmax,
            other => unreachable!("`{other}` is listed in BUILTIN_OPS but has no lowering"),
        };
        Ok((op, vec![x]))
    }

    fn concat(&mut self, call: &'a ast::Call, scope: &mut Scope) -> Result<(Op, Vec<NodeId>)> {
        if call.args.is_empty() {
            return Err(LowerError::at(
                call.callee.span,
                "concat needs at least one tensor",
                "no operands",
            ));
        }
        let mut operands = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            if let Some(keyword) = &arg.keyword {
                return Err(LowerError::at(
                    keyword.span,
                    format!("concat has no parameter `{}`", keyword.name),
                    "concat takes only tensors",
                ));
            }
            operands.push(self.expect_tensor(&arg.value, scope, "a concat operand")?);
        }
        Ok((Op::Concat, operands))
    }

    fn bind_args(
        &mut self,
        call: &'a ast::Call,
        specs: &[(&'static str, ParamKind)],
        scope: &mut Scope,
    ) -> Result<Args> {
        let op = call.callee.name.as_str();
        let mut values: Vec<Option<(Value, Span)>> = vec![None; specs.len()];
        let mut seen_keyword = false;
        let mut positional = 0;
        for arg in &call.args {
            let index = match &arg.keyword {
                None => {
                    if seen_keyword {
                        return Err(LowerError::at(
                            arg.span,
                            "positional argument after a keyword argument",
                            "move it before the keyword arguments",
                        ));
                    }
                    positional += 1;
                    if positional > specs.len() {
                        return Err(LowerError::at(
                            arg.span,
                            format!("`{op}` takes at most {} argument(s)", specs.len()),
                            "unexpected argument",
                        )
                        .note(format!("`{op}({})`", signature(specs))));
                    }
                    positional - 1
                }
                Some(keyword) => {
                    seen_keyword = true;
                    specs
                        .iter()
                        .position(|(name, _)| *name == keyword.name)
                        .ok_or_else(|| {
                            let names: Vec<&str> = specs.iter().map(|(n, _)| *n).collect();
                            let mut err = LowerError::at(
                                keyword.span,
                                format!("`{op}` has no argument `{}`", keyword.name),
                                "unknown argument",
                            );
                            if let Some(similar) = closest(&keyword.name, &names) {
                                err = err.note(format!("did you mean `{similar}`?"));
                            }
                            err.note(format!("`{op}({})`", signature(specs)))
                        })?
                }
            };
            if values[index].is_some() {
                return Err(LowerError::at(
                    arg.span,
                    format!("argument `{}` is given twice", specs[index].0),
                    "given again here",
                ));
            }
            let value = self.eval(&arg.value, scope, None)?;
            let kind = &specs[index].1;
            if !kind.accepts(&value) {
                let err = LowerError::at(
                    arg.value.span,
                    format!(
                        "argument `{}` of `{op}` expects {}, found {}",
                        specs[index].0,
                        kind.describe(),
                        value.kind()
                    ),
                    format!("this is {}", value.kind()),
                );
                return Err(match &value {
                    Value::Tuple(ids) => err.note(pick_one(ids.len())),
                    _ => err,
                });
            }
            values[index] = Some((value, arg.value.span));
        }
        for ((name, kind), value) in specs.iter().zip(&values) {
            if value.is_none() && !matches!(kind, ParamKind::Optional(_)) {
                return Err(LowerError::at(
                    call.callee
                        .span
                        .to(call.args.last().map_or(call.callee.span, |a| a.span)),
                    format!("`{op}` is missing its argument `{name}`"),
                    format!("`{name}` is required"),
                )
                .note(format!("`{op}({})`", signature(specs))));
            }
        }
        let values = specs
            .iter()
            .zip(values)
            .filter_map(|((name, _), v)| v.map(|v| (*name, v)))
            .collect();
        Ok(Args {
            values,
            call_span: call.callee.span,
        })
    }
}

/// `x, out, kernel, stride=…` for error notes.
fn signature(specs: &[(&str, ParamKind)]) -> String {
    let parts: Vec<String> = specs
        .iter()
        .map(|(name, kind)| match kind {
            ParamKind::Optional(_) => format!("{name}=…"),
            _ => name.to_string(),
        })
        .collect();
    parts.join(", ")
}

/// The accepted kind of a built-in op's argument.
enum ParamKind {
    Tensor,
    Int,
    /// An integer or a `(height, width)` pair.
    Spatial,
    /// A float (an integer is accepted too).
    Float,
    Str,
    Bool,
    /// A list of integers `[a, b, ...]`.
    IntList,
    /// May be omitted; the op supplies the default.
    Optional(&'static ParamKind),
}

impl ParamKind {
    fn accepts(&self, value: &Value) -> bool {
        match (self, value) {
            (ParamKind::Optional(inner), v) => inner.accepts(v),
            (ParamKind::Tensor, Value::Tensor(_))
            | (ParamKind::Int, Value::Int(_))
            | (ParamKind::Spatial, Value::Int(_) | Value::Pair(..))
            | (ParamKind::Float, Value::Float(_) | Value::Int(_))
            | (ParamKind::Str, Value::Str(_))
            | (ParamKind::Bool, Value::Bool(_))
            | (ParamKind::IntList, Value::List(_)) => true,
            _ => false,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            ParamKind::Tensor => "a tensor",
            ParamKind::Int => "an integer",
            ParamKind::Spatial => "an integer or a pair `(height, width)`",
            ParamKind::Float => "a number",
            ParamKind::Str => "a string",
            ParamKind::Bool => "`true` or `false`",
            ParamKind::IntList => "a list of integers `[a, b, ...]`",
            ParamKind::Optional(inner) => inner.describe(),
        }
    }
}

/// The largest integer attribute or dimension accepted (keeps all size arithmetic in range).
const MAX_DIM: i64 = 1 << 24;

/// Type-checked arguments of one built-in op call.
struct Args {
    values: HashMap<&'static str, (Value, Span)>,
    call_span: Span,
}

impl Args {
    fn span(&self, name: &str) -> Span {
        self.values
            .get(name)
            .map_or(self.call_span, |(_, span)| *span)
    }

    fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    fn tensor(&self, name: &str) -> NodeId {
        match self.values.get(name) {
            Some((Value::Tensor(id), _)) => *id,
            _ => unreachable!("bind_args checked that `{name}` is a tensor"),
        }
    }

    fn checked(&self, name: &str, value: i64, min: i64) -> Result<usize> {
        if value < min || value > MAX_DIM {
            return Err(LowerError::at(
                self.span(name),
                format!("`{name}` must be an integer from {min} to {MAX_DIM}, found {value}"),
                "out of range",
            ));
        }
        Ok(value as usize)
    }

    /// A required integer at least `min`.
    fn count(&self, name: &str, min: i64) -> Result<usize> {
        match self.values.get(name) {
            Some((Value::Int(v), _)) => self.checked(name, *v, min),
            _ => unreachable!("bind_args checked that `{name}` is an integer"),
        }
    }

    fn count_or(&self, name: &str, min: i64, default: usize) -> Result<usize> {
        if self.values.contains_key(name) {
            self.count(name, min)
        } else {
            Ok(default)
        }
    }

    /// An integer or pair argument, each component at least `min`.
    fn pair(&self, name: &str, min: i64, default: Option<Pair>) -> Result<Pair> {
        match (self.values.get(name), default) {
            (Some((Value::Int(v), _)), _) => {
                let v = self.checked(name, *v, min)?;
                Ok((v, v))
            }
            (Some((Value::Pair(h, w), _)), _) => {
                Ok((self.checked(name, *h, min)?, self.checked(name, *w, min)?))
            }
            (None, Some(default)) => Ok(default),
            _ => unreachable!("bind_args checked `{name}`"),
        }
    }

    /// A permutation of the axes of `shape` (default: the axes reversed), each entry
    /// checked where it is written.
    fn permutation(&self, name: &str, shape: &[usize]) -> Result<Vec<usize>> {
        let rank = shape.len();
        let Some((Value::List(entries), span)) = self.values.get(name) else {
            return Ok((0..rank).rev().collect());
        };
        let operand = format!("the operand is {}", format_shape(shape));
        if entries.len() != rank {
            return Err(LowerError::at(
                *span,
                format!(
                    "`{name}` has {} entries, the operand has {rank} axes",
                    entries.len()
                ),
                format!("expected a permutation of 0 to {}", rank.saturating_sub(1)),
            )
            .note(operand));
        }
        let mut perm = Vec::with_capacity(rank);
        for (position, &(axis, axis_span)) in entries.iter().enumerate() {
            if axis < 0 || axis as usize >= rank {
                return Err(LowerError::at(
                    axis_span,
                    format!("`{name}` entry {position} is {axis}, not an axis of the operand"),
                    format!("expected 0 to {}", rank - 1),
                )
                .note(operand));
            }
            if let Some(first) = perm.iter().position(|&a| a == axis as usize) {
                return Err(LowerError::at(
                    axis_span,
                    format!("`{name}` is not a permutation: axis {axis} appears twice"),
                    "repeated here",
                )
                .secondary(entries[first].1, "first here")
                .note(format!("each of the axes 0 to {} appears once", rank - 1)));
            }
            perm.push(axis as usize);
        }
        Ok(perm)
    }

    fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.values.get(name) {
            Some((Value::Bool(b), _)) => *b,
            _ => default,
        }
    }

    fn float_or(&self, name: &str, default: f64) -> f64 {
        match self.values.get(name) {
            Some((Value::Float(v), _)) => *v,
            Some((Value::Int(v), _)) => *v as f64,
            _ => default,
        }
    }

    fn str_or<'s>(&'s self, name: &str, default: &'s str) -> &'s str {
        match self.values.get(name) {
            Some((Value::Str(s), _)) => s,
            _ => default,
        }
    }
}

/// The error for `found` where one tensor was expected: a tuple is told how to index.
fn tensor_expected(span: Span, what: &str, found: &Value) -> LowerError {
    let err = LowerError::at(
        span,
        format!("expected a tensor for {what}, found {}", found.kind()),
        format!("this is {}", found.kind()),
    );
    match found {
        Value::Tuple(ids) => err.note(pick_one(ids.len())),
        _ => err,
    }
}

/// The note for a tuple of `len` tensors used as one tensor.
fn pick_one(len: usize) -> String {
    format!(
        "the block returns {len} tensors; pick one with `[i]`, i from 0 to {}",
        len - 1
    )
}

/// `value` as an f32, which must be finite.
fn finite_f32(value: f64, span: Span, what: &str) -> Result<f32> {
    let single = value as f32;
    if single.is_finite() {
        Ok(single)
    } else {
        Err(LowerError::at(
            span,
            format!("{what} {value:e} is outside the range of f32"),
            "not a finite f32",
        ))
    }
}

fn overflow(span: Span) -> LowerError {
    LowerError::at(
        span,
        "integer overflow",
        "this value does not fit in 64 bits",
    )
}

/// Integer arithmetic of the language: `/` is floor division.
fn int_arith(op: BinOp, a: i64, b: i64, span: Span, rhs_span: Span) -> Result<i64> {
    let result = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => {
            if b == 0 {
                return Err(LowerError::at(rhs_span, "division by zero", "this is zero"));
            }
            a.checked_div(b).map(|q| {
                if a % b != 0 && ((a < 0) != (b < 0)) {
                    q - 1
                } else {
                    q
                }
            })
        }
    };
    result.ok_or_else(|| overflow(span))
}

/// The candidate closest to `name` by edit distance, if reasonably close.
fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(name.len()))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_rounds_towards_negative_infinity() {
        let s = Span::default();
        assert_eq!(int_arith(BinOp::Div, 7, 2, s, s).unwrap(), 3);
        assert_eq!(int_arith(BinOp::Div, -7, 2, s, s).unwrap(), -4);
        assert_eq!(int_arith(BinOp::Div, 7, -2, s, s).unwrap(), -4);
        assert!(int_arith(BinOp::Div, 1, 0, s, s).is_err());
        assert!(int_arith(BinOp::Mul, i64::MAX, 2, s, s).is_err());
    }

    #[test]
    fn suggestions_pick_the_nearest_name() {
        assert_eq!(
            closest("sconv", &["sconv2d", "conv2d", "relu"]),
            Some("sconv2d")
        );
        assert_eq!(closest("rleu", &["relu", "relu6"]), Some("relu"));
        assert_eq!(closest("zzz", &["relu"]), None);
    }
}
