//! ONNX graph → `.sc` AST and weights.
//!
//! Assumes a decoded `ModelProto`. Guarantees, on success, a one-model `.sc` file whose
//! weights (named by LANGUAGE.md's rule) are all in [`Imported::weights`], one `let` per ONNX
//! layer, and a [`NameTable`] from the ONNX input and output names to the `.sc` ones.
//! Compile-time values (initializers, `Constant`, `Shape` computations) are folded while
//! importing, so a `Shape → Gather → Concat → Reshape` that flattens becomes `flatten`.
//! Every operator the importer cannot express is collected before anything else is done, so
//! an unsupported model is reported whole.

use crate::ast_build::{self as b};
use crate::error::{OnnxError, UnsupportedOp};
use crate::names::{self, Names};
use crate::proto::{AttributeProto, GraphProto, ModelProto, NodeProto};
use crate::tensor::{Const, Data, TensorReader, dtype};
use scc_lang::Span;
use scc_lang::ast::{self, BinOp, Expr};
use scc_runtime::Tensor;
use scc_runtime::candidates::{self, Candidate};
use scc_runtime::structure;
use std::collections::{BTreeMap, HashMap};

/// The structure of one structured layer: `alpha [out, c, n.0, n.1]` (`[out, c]` for linear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerStructure {
    pub c: usize,
    pub n: (usize, usize),
}

/// Which conv and linear layers become structured (`sconv2d` / `slinear` over the
/// projection of their kernel).
#[derive(Debug, Clone, Default)]
pub struct StructureOptions {
    /// Every layer whose best candidate (fewest multiplications) has a relative residual
    /// at most this becomes structured.
    pub auto: Option<f64>,
    /// Explicit choices by `.sc` layer name (the `let` name), applied whatever the residual.
    pub layers: BTreeMap<String, LayerStructure>,
}

/// What may be changed when importing.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Input shapes by ONNX input name: they fix symbolic dimensions (`batch`) or replace the
    /// declared shape; each must have the declared rank.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    pub structure: StructureOptions,
    /// The `.sc` model's name (default: from the graph's name).
    pub model_name: Option<String>,
}

/// ONNX names and the `.sc` names they became, in graph order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    /// `(ONNX input name, .sc input name)`.
    pub inputs: Vec<(String, String)>,
    /// `(ONNX output name, .sc output name)`.
    pub outputs: Vec<(String, String)>,
}

/// A layer the import made structured.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredLayer {
    /// The `.sc` layer (`let`) name.
    pub layer: String,
    pub structure: LayerStructure,
    /// `‖W − compose(alpha)‖ / ‖W‖` of the projected kernel.
    pub relative_residual: f64,
    /// Whether `--structure auto` chose it (else it was asked for by name).
    pub automatic: bool,
}

/// An imported model.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The `.sc` file: one model.
    pub file: ast::File,
    /// Comment lines for the top of the printed file.
    pub header: Vec<String>,
    /// The comment printed after each `let`, by `let` name: the ONNX op and node.
    pub comments: BTreeMap<String, String>,
    /// Every weight of the model, by `.sc` weight name.
    pub weights: BTreeMap<String, Tensor>,
    pub names: NameTable,
    pub structured: Vec<StructuredLayer>,
}

impl Imported {
    /// The model as readable `.sc` text.
    pub fn source_text(&self) -> String {
        let annotations = scc_lang::print::Annotations {
            header: self.header.clone(),
            lets: self.comments.clone(),
        };
        scc_lang::print::print_annotated(&self.file, &annotations)
    }
}

/// The ONNX operators of the default domain the importer implements.
const SUPPORTED: &[&str] = &[
    "Conv",
    "BatchNormalization",
    "Relu",
    "LeakyRelu",
    "Clip",
    "Sigmoid",
    "Tanh",
    "HardSigmoid",
    "HardSwish",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "Squeeze",
    "Unsqueeze",
    "Shape",
    "Gather",
    "Concat",
    "Cast",
    "Slice",
    "Transpose",
    "ConstantOfShape",
    "Pad",
    "Gemm",
    "MatMul",
    "Resize",
    "Upsample",
    "Softmax",
    "Identity",
    "Dropout",
    "Constant",
];

/// The opsets of the default domain the importer reads.
const OPSETS: std::ops::RangeInclusive<i64> = 9..=22;

/// What an ONNX value is while importing.
#[derive(Debug, Clone)]
enum Value {
    /// A tensor computed at run time: its `.sc` name and shape.
    Tensor { name: String, shape: Vec<usize> },
    /// Known at import time.
    Const(Const),
    /// A `Sigmoid` (or `HardSigmoid`) of `input` that only a `Mul` with `input` reads: it
    /// becomes `silu` (`hardswish`) there.
    Gate { input: String, act: &'static str },
    /// A `MatMul` whose only reader is an `Add` of a bias: the two become one `linear`.
    MatMul {
        input: String,
        batch: usize,
        weight: Tensor,
    },
}

/// Imports a decoded model. `origin` is the path quoted in errors; `dir` the folder external
/// data is read from (`None` when the model was not read from a file).
pub fn import_model(
    model: &ModelProto,
    origin: &str,
    dir: Option<&std::path::Path>,
    options: &ImportOptions,
) -> std::result::Result<Imported, OnnxError> {
    let graph = model.graph.as_ref().ok_or_else(|| OnnxError::Malformed {
        origin: origin.to_string(),
        reason: "it holds no graph".to_string(),
    })?;
    let mut opsets: HashMap<String, i64> = HashMap::new();
    for import in &model.opset_import {
        let domain = match import.domain() {
            "" | "ai.onnx" => "ai.onnx",
            other => other,
        };
        opsets.insert(domain.to_string(), import.version());
    }
    // IR version 3 and older have no opset_import: opset 1 of the default domain.
    let opset = opsets.get("ai.onnx").copied().unwrap_or(1);
    check_operators(graph, &opsets, origin)?;
    let mut importer = Importer {
        origin: origin.to_string(),
        opset,
        reader: TensorReader {
            origin: origin.to_string(),
            dir: dir.map(|d| d.to_path_buf()),
        },
        graph,
        values: HashMap::new(),
        uses: HashMap::new(),
        consumers: HashMap::new(),
        names: Names::default(),
        body: Vec::new(),
        comments: BTreeMap::new(),
        weights: BTreeMap::new(),
        structure: &options.structure,
        structured: Vec::new(),
        affines: HashMap::new(),
    };
    importer.run(model, options)
}

/// Every node whose (domain, op, opset) the importer does not implement, all at once.
fn check_operators(
    graph: &GraphProto,
    opsets: &HashMap<String, i64>,
    origin: &str,
) -> std::result::Result<(), OnnxError> {
    let mut unsupported = Vec::new();
    for (index, node) in graph.node.iter().enumerate() {
        let domain = match node.domain() {
            "" | "ai.onnx" => "ai.onnx",
            other => other,
        };
        let opset = opsets.get(domain).copied().unwrap_or(0);
        let known =
            domain == "ai.onnx" && SUPPORTED.contains(&node.op_type()) && OPSETS.contains(&opset);
        if !known {
            unsupported.push(UnsupportedOp {
                node: node_name(node, index),
                op: node.op_type().to_string(),
                domain: domain.to_string(),
                opset,
            });
        }
    }
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(OnnxError::Unsupported {
            origin: origin.to_string(),
            ops: unsupported,
        })
    }
}

fn node_name(node: &NodeProto, index: usize) -> String {
    if node.name().is_empty() {
        format!("#{index}")
    } else {
        node.name().to_string()
    }
}

/// `Conv` → `conv`, `GlobalAveragePool` → `global_average_pool`.
fn snake(op: &str) -> String {
    let mut out = String::new();
    let mut previous_upper = true;
    for c in op.chars() {
        if c.is_ascii_uppercase() {
            if !previous_upper {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        previous_upper = c.is_ascii_uppercase();
    }
    out
}

struct Importer<'m> {
    origin: String,
    opset: i64,
    reader: TensorReader,
    graph: &'m GraphProto,
    values: HashMap<String, Value>,
    /// Readers of each value: nodes and graph outputs.
    uses: HashMap<String, usize>,
    /// The nodes that read each value.
    consumers: HashMap<String, Vec<usize>>,
    names: Names,
    body: Vec<ast::Stmt>,
    comments: BTreeMap<String, String>,
    weights: BTreeMap<String, Tensor>,
    structure: &'m StructureOptions,
    structured: Vec<StructuredLayer>,
    /// The `affine` layers emitted so far, by `.sc` name: a constant per-channel operation
    /// reading one of them (and nothing else does) is merged into it.
    affines: HashMap<String, AffineLayer>,
}

/// An emitted `affine` layer: `x · weight + bias`, computed in f64 as the ONNX ops are merged.
struct AffineLayer {
    /// Its statement in the body.
    stmt: usize,
    /// The ONNX value it computes (the last merged node's output).
    output: String,
    input: String,
    weight: Vec<f64>,
    bias: Option<Vec<f64>>,
}

/// Attributes of one node, by name.
struct Attrs<'n>(&'n [AttributeProto]);

impl<'n> Attrs<'n> {
    fn get(&self, name: &str) -> Option<&'n AttributeProto> {
        self.0.iter().find(|a| a.name() == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i())
    }

    fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f())
    }

    fn ints(&self, name: &str) -> Option<&'n [i64]> {
        self.get(name).map(|a| a.ints.as_slice())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).map_or(default.to_string(), |a| {
            String::from_utf8_lossy(a.s()).into_owned()
        })
    }
}

type Result<T> = std::result::Result<T, OnnxError>;

impl<'m> Importer<'m> {
    fn run(&mut self, model: &ModelProto, options: &ImportOptions) -> Result<Imported> {
        let graph = self.graph;
        for (index, node) in graph.node.iter().enumerate() {
            for input in node.input.iter().filter(|i| !i.is_empty()) {
                *self.uses.entry(input.clone()).or_default() += 1;
                self.consumers.entry(input.clone()).or_default().push(index);
            }
        }
        for output in &graph.output {
            *self.uses.entry(output.name().to_string()).or_default() += 1;
        }
        for init in &graph.initializer {
            let value = self.reader.read(init)?;
            self.values
                .insert(init.name().to_string(), Value::Const(value));
        }
        let inputs = self.inputs(options)?;
        for (index, node) in graph.node.iter().enumerate() {
            self.node(index, node)?;
        }
        let mut outputs = Vec::new();
        let mut returned = Vec::new();
        for output in &graph.output {
            let onnx = output.name();
            match self.values.get(onnx) {
                Some(Value::Tensor { name, .. }) => {
                    if returned.contains(name) {
                        return Err(self.graph_error(format!(
                            "output `{onnx}` is the same tensor as another output; scc needs distinct outputs"
                        )));
                    }
                    returned.push(name.clone());
                    outputs.push((onnx.to_string(), name.clone()));
                }
                Some(_) => {
                    return Err(self.graph_error(format!(
                        "output `{onnx}` is a constant; scc compiles outputs computed from the inputs"
                    )));
                }
                None => {
                    return Err(
                        self.graph_error(format!("output `{onnx}` is not computed by any node"))
                    );
                }
            }
        }
        if returned.is_empty() {
            return Err(self.graph_error("the graph has no outputs".to_string()));
        }
        self.body.push(ast::Stmt::Return {
            values: returned.iter().map(|n| b::name(n)).collect(),
            span: Span::default(),
        });
        let model_name = options.model_name.clone().unwrap_or_else(|| {
            names::identifier(if graph.name().is_empty() {
                "model"
            } else {
                graph.name()
            })
        });
        let model_inputs = inputs
            .iter()
            .map(|(_, name, shape)| ast::ModelInput {
                name: b::ident(name),
                dims: shape.iter().map(|&d| (d as i64, Span::default())).collect(),
                span: Span::default(),
            })
            .collect();
        let file = ast::File {
            items: vec![ast::Item::Model(ast::Model {
                name: b::ident(&model_name),
                inputs: model_inputs,
                body: std::mem::take(&mut self.body),
                span: Span::default(),
            })],
        };
        let names = NameTable {
            inputs: inputs.into_iter().map(|(onnx, sc, _)| (onnx, sc)).collect(),
            outputs,
        };
        let header = self.header(model, &names);
        Ok(Imported {
            file,
            header,
            comments: std::mem::take(&mut self.comments),
            weights: std::mem::take(&mut self.weights),
            names,
            structured: std::mem::take(&mut self.structured),
        })
    }

    fn header(&self, model: &ModelProto, names: &NameTable) -> Vec<String> {
        let mut header = vec![format!(
            "Imported from `{}` by scc (ONNX IR {}, opset {}, produced by {} {}).",
            self.origin,
            model.ir_version(),
            self.opset,
            if model.producer_name().is_empty() {
                "an unnamed tool"
            } else {
                model.producer_name()
            },
            model.producer_version()
        )];
        header.push(
            "Weights: the .safetensors file written beside this one, named <let>.<suffix>."
                .to_string(),
        );
        let renamed: Vec<String> = names
            .inputs
            .iter()
            .chain(&names.outputs)
            .filter(|(onnx, sc)| onnx != sc)
            .map(|(onnx, sc)| format!("`{onnx}` is `{sc}`"))
            .collect();
        if !renamed.is_empty() {
            header.push(format!("ONNX names: {}.", renamed.join(", ")));
        }
        for layer in &self.structured {
            header.push(format!(
                "`{}` is structured (c={}, n=({}, {})): relative residual {:.2e} of the projected dense kernel{}.",
                layer.layer,
                layer.structure.c,
                layer.structure.n.0,
                layer.structure.n.1,
                layer.relative_residual,
                if layer.automatic { ", chosen by --structure auto" } else { "" }
            ));
        }
        header
    }

    fn graph_error(&self, message: String) -> OnnxError {
        OnnxError::Graph {
            origin: self.origin.clone(),
            message,
        }
    }

    /// The graph's inputs (initializers listed as inputs excluded): ONNX name, `.sc` name, shape.
    fn inputs(&mut self, options: &ImportOptions) -> Result<Vec<(String, String, Vec<usize>)>> {
        use crate::proto::tensor_shape_proto::dimension::Value as Dim;
        use crate::proto::type_proto::Value as Type;
        let graph = self.graph;
        let real: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !self.values.contains_key(i.name()))
            .collect();
        let known: Vec<String> = real.iter().map(|i| format!("`{}`", i.name())).collect();
        for name in options.input_shapes.keys() {
            if !real.iter().any(|i| i.name() == name) {
                return Err(self.graph_error(format!(
                    "--input-shape names `{name}`, which is not an input; the inputs are {}",
                    known.join(", ")
                )));
            }
        }
        let mut out = Vec::new();
        for input in real {
            let onnx = input.name().to_string();
            let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(Type::TensorType(t)) => t,
                _ => {
                    return Err(self.graph_error(format!("input `{onnx}` is not a tensor")));
                }
            };
            if tensor.elem_type() != dtype::FLOAT {
                return Err(self.graph_error(format!(
                    "input `{onnx}` has element type {}; scc's inputs are FLOAT",
                    crate::tensor::dtype_name(tensor.elem_type())
                )));
            }
            let dims: Vec<Option<(i64, String)>> = match &tensor.shape {
                Some(shape) => shape
                    .dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(Dim::DimValue(v)) if *v > 0 => Some((*v, String::new())),
                        Some(Dim::DimParam(p)) => Some((0, p.clone())),
                        _ => Some((0, "?".to_string())),
                    })
                    .collect(),
                None => {
                    return Err(self.graph_error(format!(
                        "input `{onnx}` has no declared shape; give it with --input-shape {onnx}=1,3,224,224"
                    )));
                }
            };
            let declared: Vec<(i64, String)> = dims.into_iter().flatten().collect();
            let shape: Vec<usize> = match options.input_shapes.get(&onnx) {
                Some(given) => {
                    if given.len() != declared.len() {
                        return Err(self.graph_error(format!(
                            "--input-shape gives input `{onnx}` rank {}, the model declares rank {}",
                            given.len(),
                            declared.len()
                        )));
                    }
                    given.clone()
                }
                None => {
                    if let Some(index) = declared.iter().position(|(v, _)| *v == 0) {
                        let suggestion: Vec<String> = declared
                            .iter()
                            .map(|(v, _)| (*v).max(1).to_string())
                            .collect();
                        return Err(OnnxError::SymbolicDimension {
                            origin: self.origin.clone(),
                            input: onnx.clone(),
                            symbol: declared[index].1.clone(),
                            index,
                            suggestion: suggestion.join(","),
                        });
                    }
                    declared.iter().map(|(v, _)| *v as usize).collect()
                }
            };
            if shape.len() != 2 && shape.len() != 4 {
                return Err(self.graph_error(format!(
                    "input `{onnx}` has rank {}; scc's inputs are [N, F] or [N, C, H, W]",
                    shape.len()
                )));
            }
            let sc = self.names.unique(&names::identifier(&onnx));
            self.values.insert(
                onnx.clone(),
                Value::Tensor {
                    name: sc.clone(),
                    shape: shape.clone(),
                },
            );
            out.push((onnx, sc, shape));
        }
        if out.is_empty() {
            return Err(self.graph_error("the graph has no inputs".to_string()));
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------
    // Node context.

    fn node_error(&self, node: &NodeProto, index: usize, message: impl Into<String>) -> OnnxError {
        OnnxError::Node {
            origin: self.origin.clone(),
            node: node_name(node, index),
            op: node.op_type().to_string(),
            message: message.into(),
        }
    }

    fn input<'a>(&'a self, node: &NodeProto, index: usize, position: usize) -> Result<&'a Value> {
        let name = node
            .input
            .get(position)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.node_error(node, index, format!("input {position} is missing")))?;
        self.values.get(name).ok_or_else(|| {
            self.node_error(
                node,
                index,
                format!("reads `{name}`, which no earlier node computes"),
            )
        })
    }

    fn optional_input<'a>(
        &'a self,
        node: &NodeProto,
        index: usize,
        position: usize,
    ) -> Result<Option<&'a Value>> {
        match node.input.get(position) {
            Some(name) if !name.is_empty() => self.input(node, index, position).map(Some),
            _ => Ok(None),
        }
    }

    /// A run-time tensor operand: its `.sc` name and shape.
    fn tensor(
        &self,
        node: &NodeProto,
        index: usize,
        position: usize,
    ) -> Result<(String, Vec<usize>)> {
        match self.input(node, index, position)? {
            Value::Tensor { name, shape } => Ok((name.clone(), shape.clone())),
            Value::Const(_) => Err(self.node_error(
                node,
                index,
                format!(
                    "input {position} (`{}`) is a constant; scc needs a tensor computed from the model's inputs here",
                    node.input[position]
                ),
            )),
            Value::Gate { .. } | Value::MatMul { .. } => Err(self.node_error(
                node,
                index,
                "internal: a fused value was read twice",
            )),
        }
    }

    /// A constant operand.
    fn constant(&self, node: &NodeProto, index: usize, position: usize) -> Result<Const> {
        match self.input(node, index, position)? {
            Value::Const(c) => Ok(c.clone()),
            _ => Err(self.node_error(
                node,
                index,
                format!(
                    "input {position} (`{}`) must be a constant (an initializer or computed from constants)",
                    node.input[position]
                ),
            )),
        }
    }

    /// A constant float operand as a tensor of its shape.
    fn weight(&self, node: &NodeProto, index: usize, position: usize) -> Result<Tensor> {
        let c = self.constant(node, index, position)?;
        match c.data {
            Data::F32(values) => Ok(Tensor::from_vec(c.shape, values)),
            Data::I64(_) => Err(self.node_error(
                node,
                index,
                format!(
                    "input {position} (`{}`) holds integers; scc's weights are FLOAT",
                    node.input[position]
                ),
            )),
        }
    }

    fn set(&mut self, node: &NodeProto, value: Value) {
        if let Some(output) = node.output.first() {
            self.values.insert(output.clone(), value);
        }
    }

    /// Refuses nodes whose extra outputs (masks, indices, training statistics) are read.
    fn single_output(&self, node: &NodeProto, index: usize) -> Result<()> {
        for extra in node.output.iter().skip(1).filter(|o| !o.is_empty()) {
            if self.uses.get(extra).copied().unwrap_or(0) > 0 {
                return Err(self.node_error(
                    node,
                    index,
                    format!("its output `{extra}` is read, and scc computes only the first output"),
                ));
            }
        }
        Ok(())
    }

    /// The `let` name of a node's result: from its weight's name (`layer1.0.conv1.weight` →
    /// `layer1_0_conv1`), its output's name, its node name's module path, or its op.
    fn let_name(&mut self, node: &NodeProto, weight: Option<usize>) -> String {
        let from_weight = weight
            .and_then(|p| node.input.get(p))
            .filter(|n| names::is_meaningful(n))
            .and_then(|n| {
                n.strip_suffix(".weight")
                    .or_else(|| n.strip_suffix(".scale"))
                    .map(str::to_string)
            });
        let op = snake(node.op_type());
        let base = from_weight
            .or_else(|| {
                node.output
                    .first()
                    .filter(|o| names::is_meaningful(o))
                    .cloned()
            })
            .or_else(|| {
                names::scope_path(node.name()).map(|path| {
                    let last = path.rsplit('.').next().unwrap_or("");
                    let stem = last.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
                    if weight.is_some() || stem == op {
                        path
                    } else {
                        format!("{path}.{op}")
                    }
                })
            })
            .unwrap_or(op);
        self.names.unique(&names::identifier(&base))
    }

    /// Adds `let NAME = expr;` computing the node's output of `shape`.
    fn emit(
        &mut self,
        node: &NodeProto,
        index: usize,
        name: String,
        expr: Expr,
        shape: Vec<usize>,
    ) {
        let label = if node.name().is_empty() {
            format!("{} #{index}", node.op_type())
        } else {
            format!("{} {}", node.op_type(), node.name())
        };
        self.comments.insert(name.clone(), label);
        self.body.push(ast::Stmt::Let {
            name: b::ident(&name),
            value: expr,
            span: Span::default(),
        });
        self.set(node, Value::Tensor { name, shape });
    }

    /// The single node reading `value`, if exactly one node (and no graph output) reads it.
    fn sole_consumer(&self, value: &str) -> Option<&'m NodeProto> {
        if self.uses.get(value).copied().unwrap_or(0) != 1 {
            return None;
        }
        let readers = self.consumers.get(value)?;
        let graph = self.graph;
        match readers.as_slice() {
            [only] => Some(&graph.node[*only]),
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------
    // Nodes.

    fn node(&mut self, index: usize, node: &'m NodeProto) -> Result<()> {
        let attrs = Attrs(&node.attribute);
        match node.op_type() {
            "Constant" => self.constant_node(index, node, &attrs),
            "Identity" | "Dropout" => {
                self.single_output(node, index)?;
                let value = self.input(node, index, 0)?.clone();
                self.set(node, value);
                Ok(())
            }
            "Conv" => self.conv(index, node, &attrs),
            "BatchNormalization" => self.batchnorm(index, node, &attrs),
            "Relu" | "Tanh" | "HardSwish" => {
                let op = match node.op_type() {
                    "Relu" => "relu",
                    "Tanh" => "tanh",
                    _ => "hardswish",
                };
                self.unary(index, node, op)
            }
            "LeakyRelu" => {
                let (x, shape) = self.tensor(node, index, 0)?;
                let alpha = attrs.float("alpha", 0.01);
                let name = self.let_name(node, None);
                self.emit(
                    node,
                    index,
                    name,
                    b::call(
                        "leaky_relu",
                        vec![b::name(&x)],
                        vec![("slope", b::float(alpha))],
                    ),
                    shape,
                );
                Ok(())
            }
            "Pad" => self.pad(index, node, &attrs),
            "Sigmoid" => self.gate(index, node, "sigmoid"),
            "HardSigmoid" => {
                let alpha = attrs.float("alpha", 0.2);
                let beta = attrs.float("beta", 0.5);
                if (alpha - 1.0 / 6.0).abs() > 1e-6 || beta != 0.5 {
                    return Err(self.node_error(
                        node,
                        index,
                        format!("alpha={alpha}, beta={beta}: scc's hardsigmoid has alpha=1/6, beta=0.5 (PyTorch's)"),
                    ));
                }
                self.gate(index, node, "hardsigmoid")
            }
            "Clip" => self.clip(index, node, &attrs),
            "Mul" | "Add" | "Sub" | "Div" => self.arithmetic(index, node),
            "MaxPool" | "AveragePool" => self.pool(index, node, &attrs),
            "GlobalAveragePool" => {
                let (x, shape) = self.tensor(node, index, 0)?;
                self.expect_rank(node, index, &shape, 4)?;
                let name = self.let_name(node, None);
                let out = vec![shape[0], shape[1], 1, 1];
                self.emit(
                    node,
                    index,
                    name,
                    b::call("global_avgpool", vec![b::name(&x)], vec![]),
                    out,
                );
                Ok(())
            }
            "ReduceMean" => self.reduce_mean(index, node, &attrs),
            "Flatten" => {
                let axis = attrs.int("axis", 1);
                self.flatten_like(index, node, Some(axis), None)
            }
            "Reshape" => self.reshape(index, node, &attrs),
            "Squeeze" | "Unsqueeze" => self.squeeze(index, node, &attrs),
            "Transpose" => self.transpose(index, node, &attrs),
            "Shape" | "Gather" | "Cast" | "Slice" | "ConstantOfShape" => {
                self.shape_arithmetic(index, node, &attrs)
            }
            "Concat" => self.concat(index, node, &attrs),
            "Gemm" => self.gemm(index, node, &attrs),
            "MatMul" => self.matmul(index, node),
            "Resize" | "Upsample" => self.resize(index, node, &attrs),
            "Softmax" => self.softmax(index, node, &attrs),
            other => Err(self.node_error(node, index, format!("op `{other}` is not supported"))),
        }
    }

    fn expect_rank(
        &self,
        node: &NodeProto,
        index: usize,
        shape: &[usize],
        rank: usize,
    ) -> Result<()> {
        if shape.len() == rank {
            Ok(())
        } else {
            Err(self.node_error(
                node,
                index,
                format!("expects a rank-{rank} tensor, found shape {shape:?}"),
            ))
        }
    }

    fn constant_node(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let value = if let Some(t) = attrs.get("value").and_then(|a| a.t.as_ref()) {
            self.reader.read_constant(t)?
        } else if let Some(a) = attrs.get("value_float") {
            Const::f32s(vec![a.f()], vec![])
        } else if let Some(a) = attrs.get("value_floats") {
            Const::f32s(a.floats.clone(), vec![a.floats.len()])
        } else if let Some(a) = attrs.get("value_int") {
            Const::i64s(vec![a.i()], vec![])
        } else if let Some(a) = attrs.get("value_ints") {
            Const::i64s(a.ints.clone(), vec![a.ints.len()])
        } else {
            return Err(self.node_error(
                node,
                index,
                "has no value scc can read (value, value_float(s) or value_int(s))",
            ));
        };
        self.set(node, Value::Const(value));
        Ok(())
    }

    fn unary(&mut self, index: usize, node: &NodeProto, op: &str) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        let name = self.let_name(node, None);
        self.emit(
            node,
            index,
            name,
            b::call(op, vec![b::name(&x)], vec![]),
            shape,
        );
        Ok(())
    }

    /// `Sigmoid` / `HardSigmoid`: deferred when it only gates its own input (`x · σ(x)`).
    fn gate(&mut self, index: usize, node: &'m NodeProto, act: &'static str) -> Result<()> {
        let (x, _) = self.tensor(node, index, 0)?;
        let input = node.input[0].clone();
        let output = node.output.first().cloned().unwrap_or_default();
        if let Some(mul) = self.sole_consumer(&output)
            && mul.op_type() == "Mul"
            && mul.input.len() == 2
            && mul.input.contains(&input)
            && mul.input.contains(&output)
        {
            self.set(node, Value::Gate { input: x, act });
            return Ok(());
        }
        self.unary(index, node, act)
    }

    fn clip(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let bound = |this: &Self, position: usize, attr: &str, default: f32| -> Result<f32> {
            if this.opset < 11 {
                return Ok(attrs.float(attr, default));
            }
            match this.optional_input(node, index, position)? {
                None => Ok(default),
                Some(Value::Const(c)) if c.len() == 1 => Ok(c.as_f64()[0] as f32),
                Some(_) => Err(this.node_error(
                    node,
                    index,
                    format!("its {attr} bound must be a constant scalar"),
                )),
            }
        };
        let min = bound(self, 1, "min", f32::NEG_INFINITY)?;
        let max = bound(self, 2, "max", f32::INFINITY)?;
        if min.is_nan() || max.is_nan() {
            return Err(self.node_error(node, index, "a NaN bound"));
        }
        match (min, max) {
            (0.0, 6.0) => return self.unary(index, node, "relu6"),
            (0.0, f32::INFINITY) => return self.unary(index, node, "relu"),
            _ => {}
        }
        let (x, shape) = self.tensor(node, index, 0)?;
        let mut keywords = Vec::new();
        // An infinite bound is no bound (`clamp` takes finite literals).
        if min.is_finite() {
            keywords.push(("min", b::float(min)));
        } else if min == f32::INFINITY {
            return Err(self.node_error(node, index, "its min bound is +inf"));
        }
        if max.is_finite() {
            keywords.push(("max", b::float(max)));
        } else if max == f32::NEG_INFINITY {
            return Err(self.node_error(node, index, "its max bound is -inf"));
        }
        if keywords.is_empty() {
            // Clip to (-inf, inf): the identity.
            self.set(node, Value::Tensor { name: x, shape });
            return Ok(());
        }
        let name = self.let_name(node, None);
        self.emit(
            node,
            index,
            name,
            b::call("clamp", vec![b::name(&x)], keywords),
            shape,
        );
        Ok(())
    }

    fn arithmetic(&mut self, index: usize, node: &'m NodeProto) -> Result<()> {
        let op = node.op_type();
        let a = self.input(node, index, 0)?.clone();
        let b_value = self.input(node, index, 1)?.clone();
        // Constant folding (shape computations).
        if let (Value::Const(x), Value::Const(y)) = (&a, &b_value) {
            let folded = fold_binary(op, x, y).ok_or_else(|| {
                self.node_error(
                    node,
                    index,
                    "cannot fold these constants (shapes do not broadcast)",
                )
            })?;
            self.set(node, Value::Const(folded));
            return Ok(());
        }
        // x · σ(x) → silu, x · hardsigmoid(x) → hardswish.
        if op == "Mul" {
            for (gate, other) in [(&a, &b_value), (&b_value, &a)] {
                if let (Value::Gate { input, act }, Value::Tensor { name, shape }) = (gate, other)
                    && input == name
                {
                    let fused = if *act == "sigmoid" {
                        "silu"
                    } else {
                        "hardswish"
                    };
                    let let_name = self.let_name(node, None);
                    self.emit(
                        node,
                        index,
                        let_name,
                        b::call(fused, vec![b::name(name)], vec![]),
                        shape.clone(),
                    );
                    return Ok(());
                }
            }
        }
        // MatMul + bias → linear.
        if op == "Add" {
            for (mm, bias) in [(&a, &b_value), (&b_value, &a)] {
                if let (
                    Value::MatMul {
                        input,
                        batch,
                        weight,
                    },
                    Value::Const(bias),
                ) = (mm, bias)
                {
                    let out = weight.shape()[0];
                    if bias.len() == out && matches!(bias.data, Data::F32(_)) {
                        let bias = Tensor::from_vec(
                            [out],
                            bias.as_f64().iter().map(|&v| v as f32).collect(),
                        );
                        let (input, weight) = (input.clone(), weight.clone());
                        return self.linear(index, node, &input, *batch, weight, Some(bias));
                    }
                }
            }
        }
        let (lhs, rhs) = match (&a, &b_value) {
            (Value::Tensor { name: x, shape: xs }, Value::Tensor { name: y, shape: ys }) => {
                ((x.clone(), xs.clone()), (y.clone(), ys.clone()))
            }
            (Value::Tensor { name, shape }, Value::Const(c)) => {
                return self.constant_operand(index, node, name.clone(), shape.clone(), c, true);
            }
            (Value::Const(c), Value::Tensor { name, shape }) => {
                return self.constant_operand(index, node, name.clone(), shape.clone(), c, false);
            }
            _ => {
                return Err(self.node_error(node, index, "internal: a fused value was read twice"));
            }
        };
        let symbol = binop(op);
        // `+ - * /` take the broadcast operand ([N, C, 1, 1]) on the right; `+` and `*`
        // commute.
        let gate = |s: &[usize], full: &[usize]| {
            s.len() == 4
                && full.len() == 4
                && s[0] == full[0]
                && s[1] == full[1]
                && s[2] == 1
                && s[3] == 1
        };
        let commutes = matches!(symbol, BinOp::Add | BinOp::Mul);
        let (left, right, shape) = if lhs.1 == rhs.1 || gate(&rhs.1, &lhs.1) {
            (lhs.0, rhs.0, lhs.1)
        } else if commutes && gate(&lhs.1, &rhs.1) {
            (rhs.0, lhs.0, rhs.1)
        } else {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "operands of shapes {:?} and {:?}: scc broadcasts only equal shapes or an [N, C, 1, 1] right operand",
                    lhs.1, rhs.1
                ),
            ));
        };
        let name = self.let_name(node, None);
        self.emit(
            node,
            index,
            name,
            b::binary(symbol, b::name(&left), b::name(&right)),
            shape,
        );
        Ok(())
    }

    /// `Add`/`Sub`/`Mul`/`Div` of a tensor `x` and a constant (`tensor_first`: `x ∘ c`, else
    /// `c ∘ x`): a scalar becomes a float operand (`x * 0.5`), a per-channel constant
    /// (`[1, C, 1, 1]`, or `[1, F]` for `[N, F]`) an `affine` layer, merged with the `affine`
    /// it reads when nothing else reads that (`(x − mean) / std` is one layer).
    fn constant_operand(
        &mut self,
        index: usize,
        node: &NodeProto,
        x: String,
        shape: Vec<usize>,
        c: &Const,
        tensor_first: bool,
    ) -> Result<()> {
        let op = node.op_type();
        let symbol = binop(op);
        if c.shape.len() > shape.len() {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "a constant of shape {:?} broadcasts the tensor of shape {shape:?} to a higher rank",
                    c.shape
                ),
            ));
        }
        if c.len() == 1 {
            let value = c.as_f64()[0] as f32;
            if !value.is_finite() {
                return Err(self.node_error(
                    node,
                    index,
                    format!("the constant {value} is not finite"),
                ));
            }
            let (lhs, rhs) = if tensor_first {
                (b::name(&x), b::float(value))
            } else {
                (b::float(value), b::name(&x))
            };
            let name = self.let_name(node, None);
            self.emit(node, index, name, b::binary(symbol, lhs, rhs), shape);
            return Ok(());
        }
        let mut aligned = vec![1; shape.len() - c.shape.len()];
        aligned.extend(&c.shape);
        let channels = shape[1];
        let per_channel =
            aligned[1] == channels && aligned.iter().enumerate().all(|(i, &d)| i == 1 || d == 1);
        if !per_channel {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "a constant of shape {:?} against a tensor of shape {shape:?}: scc applies constants that are scalars or one value per channel ([1, C, 1, 1])",
                    c.shape
                ),
            ));
        }
        let v = c.as_f64();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(self.node_error(node, index, "the constant holds NaN or infinite values"));
        }
        let ones = vec![1.0; channels];
        let (weight, bias) = match (symbol, tensor_first) {
            (BinOp::Add, _) => (ones, Some(v)),
            (BinOp::Mul, _) => (v, None),
            (BinOp::Sub, true) => (ones, Some(v.iter().map(|x| -x).collect())),
            (BinOp::Sub, false) => (vec![-1.0; channels], Some(v)),
            (BinOp::Div, true) => (v.iter().map(|x| 1.0 / x).collect(), None),
            (BinOp::Div, false) => {
                return Err(self.node_error(
                    node,
                    index,
                    "dividing a per-channel constant by a tensor is not supported",
                ));
            }
        };
        let tensor_input = &node.input[if tensor_first { 0 } else { 1 }];
        let sole_reader = self.uses.get(tensor_input).copied().unwrap_or(0) == 1;
        if sole_reader
            && self
                .affines
                .get(&x)
                .is_some_and(|layer| &layer.output == tensor_input)
        {
            self.merge_affine(index, node, &x, shape, &weight, bias.as_deref());
            return Ok(());
        }
        let name = self.let_name(node, None);
        let layer = AffineLayer {
            stmt: self.body.len(),
            output: node.output.first().cloned().unwrap_or_default(),
            input: x,
            weight,
            bias,
        };
        let expr = affine_call(&layer);
        self.write_affine_weights(&name, &layer);
        self.affines.insert(name.clone(), layer);
        self.emit(node, index, name, expr, shape);
        Ok(())
    }

    /// Composes `x · weight + bias` after the affine layer `name` (in f64) and makes the
    /// node's output that layer.
    fn merge_affine(
        &mut self,
        index: usize,
        node: &NodeProto,
        name: &str,
        shape: Vec<usize>,
        weight: &[f64],
        bias: Option<&[f64]>,
    ) {
        let layer = self.affines.get_mut(name).expect("checked by the caller");
        let merged_bias: Option<Vec<f64>> = match (&layer.bias, bias) {
            (None, None) => None,
            (previous, added) => Some(
                (0..weight.len())
                    .map(|i| {
                        previous.as_ref().map_or(0.0, |b| b[i]) * weight[i]
                            + added.map_or(0.0, |b| b[i])
                    })
                    .collect(),
            ),
        };
        for (w, factor) in layer.weight.iter_mut().zip(weight) {
            *w *= factor;
        }
        layer.bias = merged_bias;
        layer.output = node.output.first().cloned().unwrap_or_default();
        let stmt = layer.stmt;
        let expr = affine_call(layer);
        let layer = self.affines.remove(name).expect("present");
        self.write_affine_weights(name, &layer);
        self.affines.insert(name.to_string(), layer);
        if let ast::Stmt::Let { value, .. } = &mut self.body[stmt] {
            *value = expr;
        }
        let label = if node.name().is_empty() {
            format!("{} #{index}", node.op_type())
        } else {
            format!("{} {}", node.op_type(), node.name())
        };
        if let Some(comment) = self.comments.get_mut(name) {
            comment.push_str(&format!(", {label}"));
        }
        self.set(
            node,
            Value::Tensor {
                name: name.to_string(),
                shape,
            },
        );
    }

    fn write_affine_weights(&mut self, name: &str, layer: &AffineLayer) {
        let channels = layer.weight.len();
        let rounded =
            |v: &[f64]| Tensor::from_vec([channels], v.iter().map(|&x| x as f32).collect());
        self.weights
            .insert(format!("{name}.weight"), rounded(&layer.weight));
        match &layer.bias {
            Some(bias) => {
                self.weights.insert(format!("{name}.bias"), rounded(bias));
            }
            None => {
                self.weights.remove(&format!("{name}.bias"));
            }
        }
    }

    /// Spatial pads of a conv or pool, `((top, left), (bottom, right))`: explicit `pads` or
    /// `auto_pad`.
    #[allow(clippy::too_many_arguments)]
    fn pads(
        &self,
        node: &NodeProto,
        index: usize,
        attrs: &Attrs,
        input: (usize, usize),
        kernel: (usize, usize),
        stride: (usize, usize),
        dilation: (usize, usize),
    ) -> Result<((usize, usize), (usize, usize))> {
        let auto = attrs.string("auto_pad", "NOTSET");
        let (begin, end) = match auto.as_str() {
            "NOTSET" => {
                let pads = attrs.ints("pads").unwrap_or(&[0, 0, 0, 0]);
                let p = self.positive(node, index, "pads", pads, 4, 0)?;
                ((p[0], p[1]), (p[2], p[3]))
            }
            "VALID" => ((0, 0), (0, 0)),
            "SAME_UPPER" | "SAME_LOWER" => {
                let total = |size: usize, k: usize, s: usize, d: usize| {
                    let out = size.div_ceil(s);
                    ((out - 1) * s + (k - 1) * d + 1).saturating_sub(size)
                };
                let th = total(input.0, kernel.0, stride.0, dilation.0);
                let tw = total(input.1, kernel.1, stride.1, dilation.1);
                if auto == "SAME_UPPER" {
                    ((th / 2, tw / 2), (th - th / 2, tw - tw / 2))
                } else {
                    ((th - th / 2, tw - tw / 2), (th / 2, tw / 2))
                }
            }
            other => {
                return Err(self.node_error(node, index, format!("unknown auto_pad \"{other}\"")));
            }
        };
        Ok((begin, end))
    }

    /// Emits `let NAME = pad(x, ...)` before a conv or pool with asymmetric padding; returns
    /// the padded tensor's name and shape.
    fn explicit_pad(
        &mut self,
        node: &NodeProto,
        index: usize,
        layer: &str,
        x: &str,
        shape: &[usize],
        (begin, end): ((usize, usize), (usize, usize)),
    ) -> (String, Vec<usize>) {
        let name = self.names.unique(&format!("{layer}_pad"));
        let label = if node.name().is_empty() {
            format!("{} #{index} (its asymmetric padding)", node.op_type())
        } else {
            format!(
                "{} {} (its asymmetric padding)",
                node.op_type(),
                node.name()
            )
        };
        self.comments.insert(name.clone(), label);
        self.body.push(ast::Stmt::Let {
            name: b::ident(&name),
            value: pad_call(x, [begin.0, begin.1, end.0, end.1], 0.0),
            span: Span::default(),
        });
        let padded = vec![
            shape[0],
            shape[1],
            shape[2] + begin.0 + end.0,
            shape[3] + begin.1 + end.1,
        ];
        (name, padded)
    }

    /// ONNX `Pad` (constant mode) of the height and width: `pad(x, top=.., left=.., bottom=..,
    /// right=.., value=..)`.
    fn pad(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        self.expect_rank(node, index, &shape, 4)?;
        let mode = attrs.string("mode", "constant");
        if mode != "constant" {
            return Err(self.node_error(
                node,
                index,
                format!("mode \"{mode}\": scc pads with a constant"),
            ));
        }
        let (pads, value) = if self.opset < 11 {
            let pads = attrs
                .ints("pads")
                .or_else(|| attrs.ints("paddings"))
                .map(<[i64]>::to_vec)
                .ok_or_else(|| self.node_error(node, index, "has no pads"))?;
            (pads, attrs.float("value", 0.0))
        } else {
            let pads = self.constant(node, index, 1)?.as_i64();
            let value = match self.optional_input(node, index, 2)? {
                None => 0.0,
                Some(Value::Const(c)) if c.len() == 1 => c.as_f64()[0] as f32,
                Some(Value::Const(c)) if c.len() == 0 => 0.0,
                Some(_) => {
                    return Err(self.node_error(
                        node,
                        index,
                        "its constant_value must be a constant scalar",
                    ));
                }
            };
            (pads, value)
        };
        // Begins then ends of the padded axes (all four, or `axes` from opset 18).
        let axes: Vec<i64> = match self.optional_input(node, index, 3)? {
            Some(Value::Const(c)) if self.opset >= 18 => c
                .as_i64()
                .iter()
                .map(|&a| if a < 0 { a + 4 } else { a })
                .collect(),
            Some(_) if self.opset >= 18 => {
                return Err(self.node_error(node, index, "its axes must be constant"));
            }
            _ => vec![0, 1, 2, 3],
        };
        if pads.len() != 2 * axes.len() || axes.iter().any(|a| !(0..4).contains(a)) {
            return Err(self.node_error(
                node,
                index,
                format!("pads {pads:?} do not match the axes {axes:?} of a rank-4 tensor"),
            ));
        }
        let mut full = [0i64; 8];
        for (i, &axis) in axes.iter().enumerate() {
            full[axis as usize] = pads[i];
            full[4 + axis as usize] = pads[axes.len() + i];
        }
        if full[0] != 0 || full[1] != 0 || full[4] != 0 || full[5] != 0 {
            return Err(self.node_error(
                node,
                index,
                format!("pads {pads:?} pad the batch or the channels; scc pads height and width"),
            ));
        }
        let sides = [full[2], full[3], full[6], full[7]];
        if sides.iter().any(|&p| !(0..=1 << 24).contains(&p)) {
            return Err(self.node_error(
                node,
                index,
                format!("pads {pads:?}: scc pads by non-negative amounts (no cropping)"),
            ));
        }
        if !value.is_finite() {
            return Err(self.node_error(
                node,
                index,
                format!("constant_value {value}: scc pads with a finite value"),
            ));
        }
        let sides = sides.map(|p| p as usize);
        if sides == [0; 4] {
            self.set(node, Value::Tensor { name: x, shape });
            return Ok(());
        }
        let out = vec![
            shape[0],
            shape[1],
            shape[2] + sides[0] + sides[2],
            shape[3] + sides[1] + sides[3],
        ];
        let name = self.let_name(node, None);
        self.emit(node, index, name, pad_call(&x, sides, value), out);
        Ok(())
    }

    /// A list attribute of `len` integers, each at least `min`.
    fn positive(
        &self,
        node: &NodeProto,
        index: usize,
        what: &str,
        values: &[i64],
        len: usize,
        min: i64,
    ) -> Result<Vec<usize>> {
        if values.len() != len || values.iter().any(|&v| v < min || v > (1 << 24)) {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "`{what}` is {values:?}; scc needs {len} values of at least {min} (2-D only)"
                ),
            ));
        }
        Ok(values.iter().map(|&v| v as usize).collect())
    }

    fn pair_attr(
        &self,
        node: &NodeProto,
        index: usize,
        attrs: &Attrs,
        name: &str,
        default: (usize, usize),
    ) -> Result<(usize, usize)> {
        match attrs.ints(name) {
            None => Ok(default),
            Some(values) => {
                let v = self.positive(node, index, name, values, 2, 1)?;
                Ok((v[0], v[1]))
            }
        }
    }

    fn conv(&mut self, index: usize, node: &'m NodeProto, attrs: &Attrs) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        if shape.len() != 4 {
            return Err(self.node_error(
                node,
                index,
                format!("input shape {shape:?}: scc supports 2-D convolutions ([N, C, H, W])"),
            ));
        }
        let weight = self.weight(node, index, 1)?;
        let &[out, cg, kh, kw] = weight.shape() else {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "weight shape {:?} is not [out, C/groups, kh, kw]",
                    weight.shape()
                ),
            ));
        };
        let bias = match self.optional_input(node, index, 2)? {
            None => None,
            Some(_) => Some(self.weight(node, index, 2)?),
        };
        let groups = attrs.int("group", 1);
        if groups < 1
            || shape[1] as i64 % groups != 0
            || shape[1] / groups as usize != cg
            || out as i64 % groups != 0
        {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "group={groups} does not fit input channels {} and weight shape {:?}",
                    shape[1],
                    weight.shape()
                ),
            ));
        }
        let groups = groups as usize;
        if let Some(k) = attrs.ints("kernel_shape")
            && k != [kh as i64, kw as i64]
        {
            return Err(self.node_error(
                node,
                index,
                format!("kernel_shape {k:?} does not match the weight's {kh}x{kw}"),
            ));
        }
        let stride = self.pair_attr(node, index, attrs, "strides", (1, 1))?;
        let dilation = self.pair_attr(node, index, attrs, "dilations", (1, 1))?;
        let (begin, end) = self.pads(
            node,
            index,
            attrs,
            (shape[2], shape[3]),
            (kh, kw),
            stride,
            dilation,
        )?;
        if let Some(b) = &bias
            && b.shape() != [out]
        {
            return Err(self.node_error(
                node,
                index,
                format!("bias shape {:?} is not [{out}]", b.shape()),
            ));
        }
        let size = |s: usize, k: usize, st: usize, total_pad: usize, d: usize| {
            let extent = d * (k - 1) + 1;
            (s + total_pad >= extent).then(|| (s + total_pad - extent) / st + 1)
        };
        let (Some(oh), Some(ow)) = (
            size(shape[2], kh, stride.0, begin.0 + end.0, dilation.0),
            size(shape[3], kw, stride.1, begin.1 + end.1, dilation.1),
        ) else {
            return Err(self.node_error(
                node,
                index,
                format!("the {kh}x{kw} kernel does not fit the padded input {shape:?}"),
            ));
        };
        let out_shape = vec![shape[0], out, oh, ow];
        let name = self.let_name(node, Some(1));
        // Asymmetric padding (e.g. SAME_UPPER at stride 2) is an explicit `pad` first.
        let (x, pad) = if begin == end {
            (x, begin)
        } else {
            let (padded, _) = self.explicit_pad(node, index, &name, &x, &shape, (begin, end));
            (padded, (0, 0))
        };
        let mut keywords = vec![("kernel", b::spatial((kh, kw)))];
        if stride != (1, 1) {
            keywords.push(("stride", b::spatial(stride)));
        }
        if pad != (0, 0) {
            keywords.push(("pad", b::spatial(pad)));
        }
        let structure = if dilation == (1, 1) {
            self.choose_structure(&name, candidates_of(&weight, true), &weight)
        } else {
            None
        };
        let op = if structure.is_some() {
            "sconv2d"
        } else {
            "conv2d"
        };
        match structure {
            Some((s, alpha)) => {
                keywords.insert(1, ("c", b::int(s.c)));
                keywords.insert(2, ("n", b::spatial(s.n)));
                self.weights.insert(format!("{name}.alpha"), alpha);
            }
            None => {
                if dilation != (1, 1) {
                    keywords.push(("dilation", b::spatial(dilation)));
                }
                self.weights.insert(format!("{name}.weight"), weight);
            }
        }
        if groups != 1 {
            keywords.push(("groups", b::int(groups)));
        }
        if let Some(bias) = bias {
            keywords.push(("bias", b::boolean(true)));
            self.weights.insert(format!("{name}.bias"), bias);
        }
        self.emit(
            node,
            index,
            name,
            b::call(op, vec![b::name(&x), b::int(out)], keywords),
            out_shape,
        );
        Ok(())
    }

    /// The structure chosen for layer `name` (explicitly, or by `--structure auto`), with its
    /// projected `alpha`.
    fn choose_structure(
        &mut self,
        name: &str,
        candidates: impl FnOnce() -> Vec<Candidate>,
        weight: &Tensor,
    ) -> Option<(LayerStructure, Tensor)> {
        let (structure, automatic) = match self.structure.layers.get(name) {
            Some(s) => (*s, false),
            None => {
                let tolerance = self.structure.auto?;
                let candidates = candidates();
                let best = candidates::best_within(&candidates, tolerance)?;
                (
                    LayerStructure {
                        c: best.c,
                        n: best.n,
                    },
                    true,
                )
            }
        };
        let projection = if weight.shape().len() == 4 {
            structure::project_to_structure(weight, structure.c, structure.n.0, structure.n.1)
        } else {
            structure::project_to_structure_linear(weight, structure.c)
        };
        self.structured.push(StructuredLayer {
            layer: name.to_string(),
            structure,
            relative_residual: projection.relative_residual,
            automatic,
        });
        Some((structure, projection.alpha))
    }

    fn batchnorm(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        self.single_output(node, index)?;
        // A training-mode export normalises with the batch's own statistics: `training_mode=1`
        // from opset 14, the running-statistics outputs before (as ONNX Runtime reads it).
        let training = if self.opset >= 14 {
            attrs.int("training_mode", 0) != 0
        } else {
            node.output.iter().skip(1).any(|o| !o.is_empty())
        };
        let (x, shape) = self.tensor(node, index, 0)?;
        if shape.len() != 2 && shape.len() != 4 {
            return Err(self.node_error(
                node,
                index,
                format!("input shape {shape:?}: scc's batchnorm takes [N, C] or [N, C, H, W]"),
            ));
        }
        let channels = shape[1];
        let mut tensors = Vec::new();
        for (position, suffix) in [
            (1, "weight"),
            (2, "bias"),
            (3, "running_mean"),
            (4, "running_var"),
        ] {
            let t = self.weight(node, index, position)?;
            if t.len() != channels {
                return Err(self.node_error(
                    node,
                    index,
                    format!(
                        "input {position} has shape {:?}, expected [{channels}]",
                        t.shape()
                    ),
                ));
            }
            tensors.push((suffix, t.reshape([channels]).expect("same length")));
        }
        let eps = attrs.float("epsilon", 1e-5);
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(self.node_error(node, index, format!("epsilon={eps} must be positive")));
        }
        let name = self.let_name(node, Some(1));
        for (suffix, t) in tensors {
            self.weights.insert(format!("{name}.{suffix}"), t);
        }
        let mut keywords = Vec::new();
        if eps != 1e-5 {
            keywords.push(("eps", b::float(eps)));
        }
        if training {
            keywords.push(("training", b::boolean(true)));
        }
        self.emit(
            node,
            index,
            name,
            b::call("batchnorm", vec![b::name(&x)], keywords),
            shape,
        );
        Ok(())
    }

    fn pool(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        self.single_output(node, index)?;
        let (x, shape) = self.tensor(node, index, 0)?;
        if shape.len() != 4 {
            return Err(self.node_error(
                node,
                index,
                format!("input shape {shape:?}: scc supports 2-D pooling"),
            ));
        }
        let kernel = match attrs.ints("kernel_shape") {
            Some(k) => {
                let k = self.positive(node, index, "kernel_shape", k, 2, 1)?;
                (k[0], k[1])
            }
            None => return Err(self.node_error(node, index, "has no kernel_shape")),
        };
        let stride = self.pair_attr(node, index, attrs, "strides", (1, 1))?;
        let dilation = self.pair_attr(node, index, attrs, "dilations", (1, 1))?;
        if dilation != (1, 1) {
            return Err(self.node_error(
                node,
                index,
                format!("dilations {dilation:?}: scc pools without dilation"),
            ));
        }
        let (begin, end) = self.pads(
            node,
            index,
            attrs,
            (shape[2], shape[3]),
            kernel,
            stride,
            (1, 1),
        )?;
        let max = node.op_type() == "MaxPool";
        let ceil_mode = attrs.int("ceil_mode", 0) != 0;
        let include_pad = attrs.int("count_include_pad", 0) != 0;
        if begin != end && (max || !include_pad) {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "asymmetric padding (top, left) = {begin:?}, (bottom, right) = {end:?}: scc pads asymmetrically with zeros, which only an average pool counting its padding reads the same"
                ),
            ));
        }
        let name = self.let_name(node, None);
        let (x, shape, pad) = if begin == end {
            (x, shape, begin)
        } else {
            let (padded, padded_shape) =
                self.explicit_pad(node, index, &name, &x, &shape, (begin, end));
            (padded, padded_shape, (0, 0))
        };
        if pad.0 * 2 > kernel.0 || pad.1 * 2 > kernel.1 {
            return Err(self.node_error(
                node,
                index,
                format!("pads {pad:?} exceed half the kernel {kernel:?}"),
            ));
        }
        let size = |s: usize, k: usize, st: usize, p: usize, ceil: bool| {
            scc_runtime::kernels::pool_output_size(s, k, st, p, ceil)
        };
        let (Some(oh), Some(ow)) = (
            size(shape[2], kernel.0, stride.0, pad.0, ceil_mode),
            size(shape[3], kernel.1, stride.1, pad.1, ceil_mode),
        ) else {
            return Err(self.node_error(
                node,
                index,
                format!("the {kernel:?} window does not fit the padded input {shape:?}"),
            ));
        };
        // ceil_mode matters only where it changes the size.
        let ceil_changes = ceil_mode
            && (size(shape[2], kernel.0, stride.0, pad.0, false) != Some(oh)
                || size(shape[3], kernel.1, stride.1, pad.1, false) != Some(ow));
        let mut keywords = vec![("kernel", b::spatial(kernel))];
        if stride != kernel {
            keywords.push(("stride", b::spatial(stride)));
        }
        if pad != (0, 0) {
            keywords.push(("pad", b::spatial(pad)));
        }
        if ceil_changes {
            keywords.push(("ceil_mode", b::boolean(true)));
        }
        // Without padding every window's size within the padded input is its number of inputs.
        if !max && !include_pad && pad != (0, 0) {
            keywords.push(("count_include_pad", b::boolean(false)));
        }
        let op = if max { "maxpool" } else { "avgpool" };
        self.emit(
            node,
            index,
            name,
            b::call(op, vec![b::name(&x)], keywords),
            vec![shape[0], shape[1], oh, ow],
        );
        Ok(())
    }

    fn reduce_mean(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        let axes: Vec<i64> = if self.opset >= 18 {
            match self.optional_input(node, index, 1)? {
                Some(Value::Const(c)) => c.as_i64(),
                Some(_) => return Err(self.node_error(node, index, "its axes must be constant")),
                None => vec![],
            }
        } else {
            attrs.ints("axes").map(<[i64]>::to_vec).unwrap_or_default()
        };
        let rank = shape.len() as i64;
        let mut axes: Vec<i64> = axes
            .iter()
            .map(|&a| if a < 0 { a + rank } else { a })
            .collect();
        axes.sort_unstable();
        if shape.len() != 4 || axes != [2, 3] {
            return Err(self.node_error(
                node,
                index,
                format!("reduces axes {axes:?} of shape {shape:?}; scc averages over H and W (axes [2, 3]) of [N, C, H, W]"),
            ));
        }
        let pooled = b::call("global_avgpool", vec![b::name(&x)], vec![]);
        let (expr, out) = if attrs.int("keepdims", 1) != 0 {
            (pooled, vec![shape[0], shape[1], 1, 1])
        } else {
            (
                b::call("flatten", vec![pooled], vec![]),
                vec![shape[0], shape[1]],
            )
        };
        let name = self.let_name(node, None);
        self.emit(node, index, name, expr, out);
        Ok(())
    }

    /// A reshape to `target` (or ONNX `Flatten` at `axis`): `flatten` when it flattens
    /// `[N, ...]` to `[N, F]`, nothing when the shape is unchanged.
    fn flatten_like(
        &mut self,
        index: usize,
        node: &NodeProto,
        axis: Option<i64>,
        target: Option<Vec<usize>>,
    ) -> Result<()> {
        let value = self.input(node, index, 0)?.clone();
        let (x, shape) = match value {
            Value::Const(c) => {
                let target = match (axis, target) {
                    (_, Some(t)) => t,
                    (Some(axis), None) => {
                        let axis = if axis < 0 {
                            axis + c.shape.len() as i64
                        } else {
                            axis
                        } as usize;
                        let axis = axis.min(c.shape.len());
                        vec![
                            c.shape[..axis].iter().product(),
                            c.shape[axis..].iter().product(),
                        ]
                    }
                    (None, None) => c.shape.clone(),
                };
                self.set(
                    node,
                    Value::Const(Const {
                        shape: target,
                        data: c.data,
                    }),
                );
                return Ok(());
            }
            Value::Tensor { name, shape } => (name, shape),
            _ => {
                return Err(self.node_error(node, index, "internal: a fused value was read twice"));
            }
        };
        let target = match (axis, target) {
            (_, Some(t)) => t,
            (Some(axis), None) => {
                let rank = shape.len() as i64;
                let axis = if axis < 0 { axis + rank } else { axis };
                if axis != 1 {
                    return Err(self.node_error(
                        node,
                        index,
                        format!("axis={axis}: scc flattens from axis 1"),
                    ));
                }
                vec![shape[0], shape[1..].iter().product()]
            }
            (None, None) => shape.clone(),
        };
        if target == shape {
            self.set(node, Value::Tensor { name: x, shape });
            return Ok(());
        }
        if target.len() == 2
            && target[0] == shape[0]
            && target[1] == shape[1..].iter().product::<usize>()
        {
            let name = self.let_name(node, None);
            self.emit(
                node,
                index,
                name,
                b::call("flatten", vec![b::name(&x)], vec![]),
                target,
            );
            return Ok(());
        }
        Err(self.node_error(
            node,
            index,
            format!("reshapes {shape:?} to {target:?}; scc reshapes only [N, C, H, W] to [N, C·H·W] (flatten)"),
        ))
    }

    fn reshape(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let spec = self.constant(node, index, 1)?.as_i64();
        let input_shape = match self.input(node, index, 0)? {
            Value::Tensor { shape, .. } => shape.clone(),
            Value::Const(c) => c.shape.clone(),
            _ => {
                return Err(self.node_error(node, index, "internal: a fused value was read twice"));
            }
        };
        let allow_zero = attrs.int("allowzero", 0) != 0;
        let total: usize = input_shape.iter().product();
        let mut target = Vec::with_capacity(spec.len());
        let mut infer = None;
        for (i, &d) in spec.iter().enumerate() {
            match d {
                -1 if infer.is_none() => {
                    infer = Some(i);
                    target.push(1);
                }
                0 if !allow_zero => match input_shape.get(i) {
                    Some(&s) => target.push(s),
                    None => {
                        return Err(self.node_error(
                            node,
                            index,
                            format!("shape {spec:?} copies dimension {i}, which the input lacks"),
                        ));
                    }
                },
                d if d >= 0 => target.push(d as usize),
                _ => {
                    return Err(self.node_error(
                        node,
                        index,
                        format!("invalid target shape {spec:?}"),
                    ));
                }
            }
        }
        if let Some(i) = infer {
            let known: usize = target.iter().product();
            if known == 0 || !total.is_multiple_of(known) {
                return Err(self.node_error(
                    node,
                    index,
                    format!("cannot reshape {input_shape:?} to {spec:?}"),
                ));
            }
            target[i] = total / known;
        }
        if target.iter().product::<usize>() != total {
            return Err(self.node_error(
                node,
                index,
                format!("cannot reshape {input_shape:?} ({total} elements) to {target:?}"),
            ));
        }
        self.flatten_like(index, node, None, Some(target))
    }

    fn squeeze(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let axes: Vec<i64> = if self.opset >= 13 {
            match self.optional_input(node, index, 1)? {
                Some(Value::Const(c)) => c.as_i64(),
                Some(_) => return Err(self.node_error(node, index, "its axes must be constant")),
                None => vec![],
            }
        } else {
            attrs.ints("axes").map(<[i64]>::to_vec).unwrap_or_default()
        };
        let shape = match self.input(node, index, 0)? {
            Value::Tensor { shape, .. } => shape.clone(),
            Value::Const(c) => c.shape.clone(),
            _ => {
                return Err(self.node_error(node, index, "internal: a fused value was read twice"));
            }
        };
        let target = if node.op_type() == "Squeeze" {
            let rank = shape.len() as i64;
            let axes: Vec<usize> = axes
                .iter()
                .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                .collect();
            shape
                .iter()
                .enumerate()
                .filter(|(i, d)| {
                    if axes.is_empty() {
                        **d != 1
                    } else {
                        !axes.contains(i)
                    }
                })
                .map(|(_, d)| *d)
                .collect::<Vec<usize>>()
        } else {
            let rank = (shape.len() + axes.len()) as i64;
            let axes: Vec<usize> = axes
                .iter()
                .map(|&a| (if a < 0 { a + rank } else { a }) as usize)
                .collect();
            let mut rest = shape.iter();
            (0..rank as usize)
                .map(|i| {
                    if axes.contains(&i) {
                        1
                    } else {
                        rest.next().copied().unwrap_or(1)
                    }
                })
                .collect()
        };
        self.flatten_like(index, node, None, Some(target))
    }

    /// `Shape`, `Gather`, `Cast`, `Slice`: folded at import time (their operands are constants or
    /// the static shape of a tensor).
    fn shape_arithmetic(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let op = node.op_type();
        let value = match op {
            "Shape" => {
                let shape = match self.input(node, index, 0)? {
                    Value::Tensor { shape, .. } => shape.clone(),
                    Value::Const(c) => c.shape.clone(),
                    _ => {
                        return Err(self.node_error(
                            node,
                            index,
                            "internal: a fused value was read twice",
                        ));
                    }
                };
                let rank = shape.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(attrs.int("start", 0));
                let end = clamp(attrs.int("end", rank));
                let dims: Vec<i64> = shape[start..end.max(start)]
                    .iter()
                    .map(|&d| d as i64)
                    .collect();
                let len = dims.len();
                Const::i64s(dims, vec![len])
            }
            "Cast" => {
                let c = self.constant(node, index, 0)?;
                match attrs.int("to", 1) as i32 {
                    dtype::FLOAT | dtype::FLOAT16 | dtype::BFLOAT16 => {
                        let v = c.as_f64().iter().map(|&x| x as f32).collect();
                        Const::f32s(v, c.shape)
                    }
                    _ => Const::i64s(c.as_i64(), c.shape),
                }
            }
            "Gather" => {
                let data = self.constant(node, index, 0)?;
                let indices = self.constant(node, index, 1)?;
                let axis = attrs.int("axis", 0);
                gather(&data, &indices, axis)
                    .ok_or_else(|| self.node_error(node, index, "indices out of range"))?
            }
            "Transpose" => {
                let data = self.constant(node, index, 0)?;
                crate::fold::transpose(&data, attrs.ints("perm")).ok_or_else(|| {
                    self.node_error(node, index, "its perm is not a permutation of the axes")
                })?
            }
            "ConstantOfShape" => {
                let shape = self.constant(node, index, 0)?.as_i64();
                let value = match attrs.get("value").and_then(|a| a.t.as_ref()) {
                    Some(t) => self.reader.read(t)?,
                    None => Const::f32s(vec![0.0], vec![1]),
                };
                crate::fold::constant_of_shape(&shape, &value).ok_or_else(|| {
                    self.node_error(
                        node,
                        index,
                        format!("cannot fold a constant of shape {shape:?}"),
                    )
                })?
            }
            _ => {
                let data = self.constant(node, index, 0)?;
                if self.opset < 10 {
                    return Err(self.node_error(
                        node,
                        index,
                        "Slice before opset 10 is not supported",
                    ));
                }
                let starts = self.constant(node, index, 1)?.as_i64();
                let ends = self.constant(node, index, 2)?.as_i64();
                let axes = match self.optional_input(node, index, 3)? {
                    Some(Value::Const(c)) => c.as_i64(),
                    _ => (0..starts.len() as i64).collect(),
                };
                let steps = match self.optional_input(node, index, 4)? {
                    Some(Value::Const(c)) => c.as_i64(),
                    _ => vec![1; starts.len()],
                };
                crate::fold::slice(&data, &starts, &ends, &axes, &steps).ok_or_else(|| {
                    self.node_error(
                        node,
                        index,
                        format!(
                            "cannot fold Slice(starts {starts:?}, ends {ends:?}, axes {axes:?}, steps {steps:?}) of a constant of shape {:?}",
                            data.shape
                        ),
                    )
                })?
            }
        };
        self.set(node, Value::Const(value));
        Ok(())
    }

    fn concat(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let values: Vec<Value> = (0..node.input.len())
            .filter(|&p| !node.input[p].is_empty())
            .map(|p| self.input(node, index, p).cloned())
            .collect::<Result<_>>()?;
        let axis = attrs.int("axis", 0);
        if values.iter().all(|v| matches!(v, Value::Const(_))) {
            let consts: Vec<&Const> = values
                .iter()
                .map(|v| match v {
                    Value::Const(c) => c,
                    _ => unreachable!(),
                })
                .collect();
            let folded = concat_consts(&consts, axis).ok_or_else(|| {
                self.node_error(
                    node,
                    index,
                    "scc folds Concat of constants only along axis 0 of 1-D values",
                )
            })?;
            self.set(node, Value::Const(folded));
            return Ok(());
        }
        let mut operands = Vec::new();
        let mut shapes = Vec::new();
        for position in 0..node.input.len() {
            let (x, shape) = self.tensor(node, index, position)?;
            operands.push(b::name(&x));
            shapes.push(shape);
        }
        let rank = shapes[0].len() as i64;
        let axis = if axis < 0 { axis + rank } else { axis };
        if axis != 1 {
            return Err(self.node_error(
                node,
                index,
                format!("axis={axis}: scc concatenates channels (axis 1)"),
            ));
        }
        let first = &shapes[0];
        let mut channels = 0;
        for s in &shapes {
            if s.len() != first.len() || s[0] != first[0] || s[2..] != first[2..] {
                return Err(self.node_error(
                    node,
                    index,
                    format!("operands of shapes {shapes:?} differ beyond axis 1"),
                ));
            }
            channels += s[1];
        }
        let mut out = first.clone();
        out[1] = channels;
        let name = self.let_name(node, None);
        self.emit(node, index, name, b::call("concat", operands, vec![]), out);
        Ok(())
    }

    /// `Transpose`: folded when its input is a constant; else `transpose(x, perm=[...])` (an
    /// identity permutation is the input itself).
    fn transpose(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        if matches!(self.input(node, index, 0)?, Value::Const(_)) {
            return self.shape_arithmetic(index, node, attrs);
        }
        let (x, shape) = self.tensor(node, index, 0)?;
        let rank = shape.len();
        let perm: Vec<usize> = match attrs.ints("perm") {
            None => (0..rank).rev().collect(),
            Some(perm) => {
                let axes: Option<Vec<usize>> = perm
                    .iter()
                    .map(|&axis| usize::try_from(axis).ok().filter(|&a| a < rank))
                    .collect();
                let mut sorted = axes.clone().unwrap_or_default();
                sorted.sort_unstable();
                match axes {
                    Some(axes) if sorted == (0..rank).collect::<Vec<_>>() => axes,
                    _ => {
                        return Err(self.node_error(
                            node,
                            index,
                            format!(
                                "perm={perm:?} is not a permutation of the {rank} axes of its input (shape {shape:?})"
                            ),
                        ));
                    }
                }
            }
        };
        if perm.iter().enumerate().all(|(k, &axis)| k == axis) {
            let value = self.input(node, index, 0)?.clone();
            self.set(node, value);
            return Ok(());
        }
        let out = perm.iter().map(|&axis| shape[axis]).collect();
        let name = self.let_name(node, None);
        self.emit(
            node,
            index,
            name,
            b::call(
                "transpose",
                vec![b::name(&x)],
                vec![("perm", b::int_list(&perm))],
            ),
            out,
        );
        Ok(())
    }

    fn gemm(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        if shape.len() != 2 {
            return Err(self.node_error(
                node,
                index,
                format!("input A has shape {shape:?}, not a matrix"),
            ));
        }
        // transA=1: A is [F, N]; the linear layer reads its transpose.
        let (x, shape) = if attrs.int("transA", 0) != 0 {
            let name = self
                .names
                .unique(&names::identifier(&format!("{x}_transposed")));
            let label = if node.name().is_empty() {
                format!("Gemm #{index} (transA=1)")
            } else {
                format!("Gemm {} (transA=1)", node.name())
            };
            self.comments.insert(name.clone(), label);
            self.body.push(ast::Stmt::Let {
                name: b::ident(&name),
                value: b::call(
                    "transpose",
                    vec![b::name(&x)],
                    vec![("perm", b::int_list(&[1, 0]))],
                ),
                span: Span::default(),
            });
            (name, vec![shape[1], shape[0]])
        } else {
            (x, shape)
        };
        let b_matrix = self.weight(node, index, 1)?;
        let &[r, c] = b_matrix.shape() else {
            return Err(self.node_error(
                node,
                index,
                format!("B has shape {:?}, not a matrix", b_matrix.shape()),
            ));
        };
        let alpha = attrs.float("alpha", 1.0);
        let beta = attrs.float("beta", 1.0);
        // Weight [out, F]: B itself with transB=1, else its transpose.
        let weight = if attrs.int("transB", 0) != 0 {
            b_matrix
        } else {
            transpose(&b_matrix, r, c)
        };
        let (out, features) = (weight.shape()[0], weight.shape()[1]);
        if features != shape[1] {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "B has {features} input features, the input has {}",
                    shape[1]
                ),
            ));
        }
        let weight = if alpha == 1.0 {
            weight
        } else {
            scale(&weight, alpha)
        };
        let bias = match self.optional_input(node, index, 2)? {
            None => None,
            Some(_) => {
                let bias = self.weight(node, index, 2)?;
                let values: Vec<f32> = match bias.len() {
                    1 => vec![bias.data()[0]; out],
                    n if n == out && bias.shape().iter().filter(|&&d| d != 1).count() <= 1 => {
                        bias.data().to_vec()
                    }
                    _ => {
                        return Err(self.node_error(
                            node,
                            index,
                            format!(
                                "C has shape {:?}; scc needs one bias per output ({out})",
                                bias.shape()
                            ),
                        ));
                    }
                };
                Some(Tensor::from_vec(
                    [out],
                    values.into_iter().map(|v| v * beta).collect(),
                ))
            }
        };
        self.linear(index, node, &x, shape[0], weight, bias)
    }

    fn matmul(&mut self, index: usize, node: &'m NodeProto) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        if shape.len() != 2 {
            return Err(self.node_error(
                node,
                index,
                format!("input shape {shape:?} is not [N, F]"),
            ));
        }
        let b_matrix = self.weight(node, index, 1)?;
        let &[features, out] = b_matrix.shape() else {
            return Err(self.node_error(
                node,
                index,
                format!("B has shape {:?}, not a matrix", b_matrix.shape()),
            ));
        };
        if features != shape[1] {
            return Err(self.node_error(
                node,
                index,
                format!("B has {features} rows, the input has {} features", shape[1]),
            ));
        }
        let weight = transpose(&b_matrix, features, out);
        let output = node.output.first().cloned().unwrap_or_default();
        if let Some(add) = self.sole_consumer(&output)
            && add.op_type() == "Add"
            && add.input.len() == 2
            && add.input.iter().any(|i| {
                i != &output
                    && matches!(self.values.get(i), Some(Value::Const(c)) if c.len() == out)
            })
        {
            self.set(
                node,
                Value::MatMul {
                    input: x,
                    batch: shape[0],
                    weight,
                },
            );
            return Ok(());
        }
        self.linear(index, node, &x, shape[0], weight, None)
    }

    /// `linear` (or `slinear`) of `x` (`[batch, F]`) computing `node`'s output.
    fn linear(
        &mut self,
        index: usize,
        node: &NodeProto,
        x: &str,
        batch: usize,
        weight: Tensor,
        bias: Option<Tensor>,
    ) -> Result<()> {
        let out = weight.shape()[0];
        let name = self.let_name(node, Some(1));
        let structure = self.choose_structure(&name, candidates_of(&weight, false), &weight);
        let mut keywords = Vec::new();
        let op = match structure {
            Some((s, alpha)) => {
                keywords.push(("c", b::int(s.c)));
                self.weights.insert(format!("{name}.alpha"), alpha);
                "slinear"
            }
            None => {
                self.weights.insert(format!("{name}.weight"), weight);
                "linear"
            }
        };
        match bias {
            Some(bias) => {
                self.weights.insert(format!("{name}.bias"), bias);
            }
            None => keywords.push(("bias", b::boolean(false))),
        }
        self.emit(
            node,
            index,
            name,
            b::call(op, vec![b::name(x), b::int(out)], keywords),
            vec![batch, out],
        );
        Ok(())
    }

    fn resize(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let (x, shape) = self.tensor(node, index, 0)?;
        self.expect_rank(node, index, &shape, 4)?;
        let legacy = node.op_type() == "Upsample" || self.opset < 11;
        if attrs.int("antialias", 0) != 0 {
            return Err(self.node_error(node, index, "antialias=1 is not supported"));
        }
        let scales_position = if legacy { 1 } else { 2 };
        let scales: Option<Vec<f64>> = match self.optional_input(node, index, scales_position)? {
            Some(Value::Const(c)) if c.len() > 0 => Some(c.as_f64()),
            Some(Value::Const(_)) | None => legacy
                .then(|| {
                    attrs
                        .get("scales")
                        .map(|a| a.floats.iter().map(|&f| f64::from(f)).collect())
                })
                .flatten(),
            Some(_) => return Err(self.node_error(node, index, "its scales must be constant")),
        };
        let sizes: Option<Vec<i64>> = if legacy {
            None
        } else {
            match self.optional_input(node, index, 3)? {
                Some(Value::Const(c)) if c.len() > 0 => Some(c.as_i64()),
                Some(Value::Const(_)) | None => None,
                Some(_) => return Err(self.node_error(node, index, "its sizes must be constant")),
            }
        };
        // Scales or sizes of the axes named by `axes` (opset 18), else of all four.
        let axes: Vec<usize> = match attrs.ints("axes") {
            Some(axes) => axes
                .iter()
                .map(|&a| (if a < 0 { a + 4 } else { a }) as usize)
                .collect(),
            None => vec![0, 1, 2, 3],
        };
        let expand = |given: &[f64], missing: f64| -> Option<Vec<f64>> {
            if given.len() != axes.len() || axes.iter().any(|&a| a > 3) {
                return None;
            }
            let mut all = vec![missing; 4];
            for (&axis, &v) in axes.iter().zip(given) {
                all[axis] = v;
            }
            Some(all)
        };
        let (out, given_scales): (Vec<f64>, Option<Vec<f64>>) = match (&sizes, &scales) {
            (Some(sizes), _) => {
                let sizes: Vec<f64> = sizes.iter().map(|&v| v as f64).collect();
                let mut all = expand(&sizes, f64::NAN).ok_or_else(|| {
                    self.node_error(
                        node,
                        index,
                        format!("sizes {sizes:?} do not match its axes"),
                    )
                })?;
                for (d, v) in all.iter_mut().enumerate() {
                    if v.is_nan() {
                        *v = shape[d] as f64;
                    }
                }
                (all, None)
            }
            (None, Some(scales)) => {
                let all = expand(scales, 1.0).ok_or_else(|| {
                    self.node_error(
                        node,
                        index,
                        format!("scales {scales:?} do not match its axes"),
                    )
                })?;
                let out = all
                    .iter()
                    .zip(&shape)
                    .map(|(s, &d)| (d as f64 * s).floor())
                    .collect();
                (out, Some(all))
            }
            (None, None) => {
                return Err(self.node_error(node, index, "needs constant scales or sizes"));
            }
        };
        if out[0] != shape[0] as f64
            || out[1] != shape[1] as f64
            || out[2] < 1.0
            || out[3] < 1.0
            || out[2] > (1 << 24) as f64
            || out[3] > (1 << 24) as f64
        {
            return Err(self.node_error(
                node,
                index,
                format!(
                    "resizes {shape:?} to {out:?}; scc resizes height and width (to at least 1)"
                ),
            ));
        }
        let (oh, ow) = (out[2] as usize, out[3] as usize);
        let (h, w) = (shape[2], shape[3]);
        // The same whole factor on both axes is `scale=s`; a scale factor that is not a whole
        // number must give its output size exactly (the coordinates then map by 1 / scale as
        // in PyTorch, where `size=` would map by in / out).
        let whole = (oh % h == 0 && ow % w == 0 && oh / h == ow / w)
            .then_some(oh / h)
            .filter(|&s| {
                given_scales
                    .as_ref()
                    .is_none_or(|all| all[2] == s as f64 && all[3] == s as f64)
            });
        let fractional = match &given_scales {
            Some(all) if whole.is_none() => {
                let (sh, sw) = (all[2], all[3]);
                let exact = sh == sw && h as f64 * sh == oh as f64 && w as f64 * sw == ow as f64;
                if !exact {
                    return Err(self.node_error(
                        node,
                        index,
                        format!("scales {:?} of {shape:?}: scc resizes by one factor for both axes, or by one that gives the output size exactly", &all[..]),
                    ));
                }
                Some(sh)
            }
            _ => None,
        };
        let mode = attrs.string("mode", "nearest");
        let transform = attrs.string(
            "coordinate_transformation_mode",
            if legacy { "asymmetric" } else { "half_pixel" },
        );
        let nearest = attrs.string("nearest_mode", "round_prefer_floor");
        let integer = whole.is_some();
        let (sc_mode, align_corners) = match (mode.as_str(), transform.as_str()) {
            // floor(x · in / out): PyTorch's "nearest".
            ("nearest", "asymmetric") if legacy || nearest == "floor" => ("nearest", false),
            // With a whole factor s these all read source pixel floor(x / s).
            ("nearest", "half_pixel" | "pytorch_half_pixel")
                if integer
                    && (nearest == "round_prefer_floor" || nearest == "round_prefer_ceil") =>
            {
                ("nearest", false)
            }
            // floor((x + 0.5) · in / out): PyTorch's "nearest-exact".
            ("nearest", "half_pixel") if nearest == "round_prefer_ceil" => ("nearest-exact", false),
            ("linear" | "bilinear", "half_pixel") => ("bilinear", false),
            ("linear" | "bilinear", "pytorch_half_pixel") if oh > 1 && ow > 1 => {
                ("bilinear", false)
            }
            ("linear" | "bilinear", "align_corners") => ("bilinear", true),
            _ => {
                return Err(self.node_error(
                    node,
                    index,
                    format!("mode \"{mode}\" with coordinate_transformation_mode \"{transform}\" (nearest_mode \"{nearest}\") is not supported: scc resamples as PyTorch's F.interpolate, nearest (asymmetric, floor), nearest-exact (half_pixel, round_prefer_ceil) and bilinear (half_pixel, pytorch_half_pixel, align_corners)"),
                ));
            }
        };
        let mut keywords = match (whole, fractional) {
            (Some(s), _) => vec![("scale", b::int(s))],
            (None, Some(f)) => vec![("scale", b::float(f as f32))],
            (None, None) => vec![("size", b::spatial_pair((oh, ow)))],
        };
        if sc_mode != "nearest" {
            keywords.push(("mode", b::string(sc_mode)));
        }
        if align_corners {
            keywords.push(("align_corners", b::boolean(true)));
        }
        let name = self.let_name(node, None);
        self.emit(
            node,
            index,
            name,
            b::call("upsample", vec![b::name(&x)], keywords),
            vec![shape[0], shape[1], oh, ow],
        );
        Ok(())
    }

    fn softmax(&mut self, index: usize, node: &NodeProto, attrs: &Attrs) -> Result<()> {
        let (_, shape) = self.tensor(node, index, 0)?;
        let rank = shape.len() as i64;
        let default = if self.opset >= 13 { -1 } else { 1 };
        let axis = attrs.int("axis", default);
        let axis = if axis < 0 { axis + rank } else { axis };
        // Before opset 13, Softmax flattens from `axis`: the same as over dim 1 only when the
        // dimensions after it are 1.
        let ok = axis == 1 && (self.opset >= 13 || shape[2..].iter().all(|&d| d == 1));
        if !ok {
            return Err(self.node_error(
                node,
                index,
                format!("axis={axis} of shape {shape:?}: scc's softmax is over dim 1"),
            ));
        }
        self.unary(index, node, "softmax")
    }
}

/// The `.sc` operator of an ONNX `Add`/`Sub`/`Mul`/`Div`.
fn binop(op: &str) -> BinOp {
    match op {
        "Add" => BinOp::Add,
        "Sub" => BinOp::Sub,
        "Mul" => BinOp::Mul,
        _ => BinOp::Div,
    }
}

/// `pad(x, top=.., left=.., bottom=.., right=.., value=..)` with only the non-zero sides (and a
/// non-zero value).
fn pad_call(x: &str, sides: [usize; 4], value: f32) -> Expr {
    let mut keywords = Vec::new();
    for (key, amount) in ["top", "left", "bottom", "right"].into_iter().zip(sides) {
        if amount != 0 {
            keywords.push((key, b::int(amount)));
        }
    }
    if value != 0.0 {
        keywords.push(("value", b::float(value)));
    }
    b::call("pad", vec![b::name(x)], keywords)
}

/// `affine(x)`, or `affine(x, bias=false)`.
fn affine_call(layer: &AffineLayer) -> Expr {
    let keywords = match layer.bias {
        Some(_) => vec![],
        None => vec![("bias", b::boolean(false))],
    };
    b::call("affine", vec![b::name(&layer.input)], keywords)
}

fn candidates_of(weight: &Tensor, conv: bool) -> impl FnOnce() -> Vec<Candidate> + '_ {
    move || {
        if conv {
            candidates::conv_candidates(weight)
        } else {
            candidates::linear_candidates(weight)
        }
    }
}

fn transpose(m: &Tensor, rows: usize, cols: usize) -> Tensor {
    let d = m.data();
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = d[r * cols + c];
        }
    }
    Tensor::from_vec([cols, rows], out)
}

fn scale(t: &Tensor, by: f32) -> Tensor {
    Tensor::from_vec(
        t.shape().to_vec(),
        t.data().iter().map(|v| v * by).collect(),
    )
}

/// Elementwise arithmetic of two constants with numpy broadcasting of a scalar or equal shapes.
fn fold_binary(op: &str, x: &Const, y: &Const) -> Option<Const> {
    let shape = if x.len() == 1 && y.len() != 1 {
        y.shape.clone()
    } else {
        x.shape.clone()
    };
    if x.len() != 1 && y.len() != 1 && x.shape != y.shape {
        return None;
    }
    let n = x.len().max(y.len());
    let at = |c: &Const, i: usize| if c.len() == 1 { 0 } else { i };
    Some(match (&x.data, &y.data) {
        (Data::I64(a), Data::I64(b)) => {
            let v = (0..n)
                .map(|i| {
                    let (p, q) = (a[at(x, i)], b[at(y, i)]);
                    match op {
                        "Add" => p.checked_add(q),
                        "Sub" => p.checked_sub(q),
                        "Mul" => p.checked_mul(q),
                        _ => p.checked_div(q),
                    }
                })
                .collect::<Option<Vec<i64>>>()?;
            Const::i64s(v, shape)
        }
        _ => {
            let (a, b) = (x.as_f64(), y.as_f64());
            let v = (0..n)
                .map(|i| {
                    let (p, q) = (a[at(x, i)], b[at(y, i)]);
                    (match op {
                        "Add" => p + q,
                        "Sub" => p - q,
                        "Mul" => p * q,
                        _ => p / q,
                    }) as f32
                })
                .collect();
            Const::f32s(v, shape)
        }
    })
}

fn gather(data: &Const, indices: &Const, axis: i64) -> Option<Const> {
    if data.shape.len() != 1 || (axis != 0 && axis != -1) {
        return None;
    }
    let n = data.shape[0] as i64;
    let picks: Vec<usize> = indices
        .as_i64()
        .iter()
        .map(|&i| {
            let i = if i < 0 { i + n } else { i };
            (0..n).contains(&i).then_some(i as usize)
        })
        .collect::<Option<_>>()?;
    let shape = indices.shape.clone();
    Some(match &data.data {
        Data::I64(v) => Const::i64s(picks.iter().map(|&i| v[i]).collect(), shape),
        Data::F32(v) => Const::f32s(picks.iter().map(|&i| v[i]).collect(), shape),
    })
}

fn concat_consts(parts: &[&Const], axis: i64) -> Option<Const> {
    if parts.iter().any(|c| c.shape.len() > 1) || (axis != 0 && axis != -1) {
        return None;
    }
    if parts.iter().all(|c| matches!(c.data, Data::I64(_))) {
        let v: Vec<i64> = parts.iter().flat_map(|c| c.as_i64()).collect();
        let n = v.len();
        Some(Const::i64s(v, vec![n]))
    } else {
        let v: Vec<f32> = parts
            .iter()
            .flat_map(|c| c.as_f64())
            .map(|x| x as f32)
            .collect();
        let n = v.len();
        Some(Const::f32s(v, vec![n]))
    }
}
