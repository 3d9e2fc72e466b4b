//! The one error type of the ONNX front end: every problem names the file, and the ONNX node,
//! tensor or input concerned.

use std::fmt;
use std::path::PathBuf;

/// An ONNX operator scc does not implement, at one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOp {
    /// The node's name (or `#index` for an unnamed node).
    pub node: String,
    /// The operator's type (`LSTM`).
    pub op: String,
    /// Its domain (`ai.onnx` for the default one).
    pub domain: String,
    /// The opset of that domain the model imports.
    pub opset: i64,
}

impl fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node `{}`: op `{}` (domain `{}`, opset {})",
            self.node, self.op, self.domain, self.opset
        )
    }
}

/// Why an ONNX model could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The model file (or an external data file) could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an ONNX model (truncated or malformed protobuf, no graph).
    #[error("`{origin}` is not a valid ONNX model: {reason}")]
    Malformed { origin: String, reason: String },
    /// Operators scc does not implement: all of them, each with its node.
    #[error("`{origin}` uses {} scc does not support:\n{}", count(.ops.len()), list(.ops))]
    Unsupported {
        origin: String,
        ops: Vec<UnsupportedOp>,
    },
    /// A node scc implements, used in a way it does not (an attribute value, a shape, an
    /// operand that must be constant, ...).
    #[error("`{origin}`: node `{node}` ({op}): {message}")]
    Node {
        origin: String,
        node: String,
        op: String,
        message: String,
    },
    /// A tensor (initializer or constant) that cannot be read.
    #[error("`{origin}`: tensor `{tensor}`: {message}")]
    Tensor {
        origin: String,
        tensor: String,
        message: String,
    },
    /// An input dimension without a size (a symbolic dimension such as `batch`).
    #[error(
        "`{origin}`: input `{input}` has a symbolic dimension `{symbol}` (dimension {index}) without a size; give it with --input-shape {input}={suggestion}"
    )]
    SymbolicDimension {
        origin: String,
        input: String,
        symbol: String,
        index: usize,
        /// The input's shape with every symbolic dimension set to 1, e.g. `1,3,224,224`.
        suggestion: String,
    },
    /// A problem with the graph's inputs or outputs, or with the options given for them.
    #[error("`{origin}`: {message}")]
    Graph { origin: String, message: String },
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 operator".to_string()
    } else {
        format!("{n} operators")
    }
}

fn list(ops: &[UnsupportedOp]) -> String {
    let lines: Vec<String> = ops.iter().map(|op| format!("  - {op}")).collect();
    lines.join("\n")
}
