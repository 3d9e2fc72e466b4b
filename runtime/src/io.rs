//! Reading and writing tensors in the safetensors format.
//!
//! Reading accepts `F32`, `F16` and `BF16` tensors (the latter two are widened exactly to `f32`);
//! [`read_checkpoint`] also passes over integer and boolean tensors (PyTorch's counters), listing
//! them;
//! writing always produces little-endian `F32`. No input, however corrupt, makes these functions
//! panic: every problem is a [`TensorIoError`] that names the file (or origin) concerned.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, View};

use crate::tensor::Tensor;

/// What went wrong reading or writing a tensor file.
#[derive(Debug, thiserror::Error)]
pub enum TensorIoError {
    /// The file could not be read from disk.
    #[error("cannot read tensor file `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written to disk.
    #[error("cannot write tensor file `{}`: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file (truncated, corrupt header, bad offsets, ...).
    #[error("`{origin}` is not a valid safetensors file: {reason}")]
    Invalid {
        /// The file path, or a description of where the bytes came from.
        origin: String,
        /// What the parser found wrong.
        reason: String,
    },
    /// A tensor is stored with an element type other than F32, F16 or BF16.
    #[error(
        "`{origin}`: tensor `{name}` has unsupported dtype {dtype} (expected F32, F16 or BF16)"
    )]
    UnsupportedDtype {
        /// The file path, or a description of where the bytes came from.
        origin: String,
        /// The tensor's name.
        name: String,
        /// The dtype found, as safetensors spells it (e.g. `F64`, `I64`).
        dtype: String,
    },
    /// The tensors could not be encoded (e.g. a reserved tensor name).
    #[error("cannot serialize tensors for `{origin}`: {reason}")]
    Serialize {
        /// The destination path, or `<memory>`.
        origin: String,
        /// What went wrong.
        reason: String,
    },
}

/// Reads every tensor of a safetensors file, widening F16/BF16 to f32.
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, Tensor>, TensorIoError> {
    let bytes = read_bytes(path)?;
    parse_safetensors(&bytes, &path.display().to_string())
}

/// Parses the bytes of a safetensors file. `origin` (usually the file path) is quoted in errors.
/// Every tensor must be F32, F16 or BF16.
pub fn parse_safetensors(
    bytes: &[u8],
    origin: &str,
) -> Result<BTreeMap<String, Tensor>, TensorIoError> {
    decode(bytes, origin, false).map(|checkpoint| checkpoint.tensors)
}

/// A tensor of a checkpoint that holds no float weight (an integer counter such as
/// batchnorm's `num_batches_tracked`, a boolean mask), passed over by name and dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTensor {
    /// The tensor's name in the file.
    pub name: String,
    /// Its dtype, as safetensors spells it (`I64`, `BOOL`, ...).
    pub dtype: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

/// The float tensors of a weights file (a PyTorch `state_dict` saved as safetensors), with the
/// integer and boolean tensors it also holds listed rather than read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// The F32 tensors, and the F16/BF16 ones widened, by name.
    pub tensors: BTreeMap<String, Tensor>,
    /// The integer and boolean tensors, in name order.
    pub skipped: Vec<SkippedTensor>,
}

/// Reads a weights file: float tensors as [`read_safetensors`] does; integer and boolean
/// tensors (PyTorch's `num_batches_tracked` counters, ...) are listed in
/// [`Checkpoint::skipped`] instead of being an error. Other dtypes (F64, F8, ...) are errors.
pub fn read_checkpoint(path: &Path) -> Result<Checkpoint, TensorIoError> {
    let bytes = read_bytes(path)?;
    parse_checkpoint(&bytes, &path.display().to_string())
}

/// [`read_checkpoint`] on the bytes of a file; `origin` is quoted in errors.
pub fn parse_checkpoint(bytes: &[u8], origin: &str) -> Result<Checkpoint, TensorIoError> {
    decode(bytes, origin, true)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, TensorIoError> {
    std::fs::read(path).map_err(|source| TensorIoError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether a dtype holds integers or booleans (counters, masks, indices), never weights.
fn is_integer(dtype: Dtype) -> bool {
    matches!(
        dtype,
        Dtype::BOOL
            | Dtype::U8
            | Dtype::I8
            | Dtype::I16
            | Dtype::U16
            | Dtype::I32
            | Dtype::U32
            | Dtype::I64
            | Dtype::U64
    )
}

fn decode(bytes: &[u8], origin: &str, skip_integers: bool) -> Result<Checkpoint, TensorIoError> {
    let invalid = |reason: String| TensorIoError::Invalid {
        origin: origin.to_string(),
        reason,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| invalid(e.to_string()))?;
    // Visit names in sorted order so that the error reported for a file with several bad
    // tensors does not depend on hash order.
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    let mut out = Checkpoint::default();
    for name in names {
        let view = file.tensor(name).map_err(|e| invalid(e.to_string()))?;
        let bytes = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            integer if skip_integers && is_integer(integer) => {
                out.skipped.push(SkippedTensor {
                    name: name.to_string(),
                    dtype: integer.to_string(),
                    shape: view.shape().to_vec(),
                });
                continue;
            }
            other => {
                return Err(TensorIoError::UnsupportedDtype {
                    origin: origin.to_string(),
                    name: name.to_string(),
                    dtype: other.to_string(),
                });
            }
        };
        let tensor = Tensor::new(view.shape().to_vec(), data)
            .map_err(|e| invalid(format!("tensor `{name}`: {e}")))?;
        out.tensors.insert(name.to_string(), tensor);
    }
    Ok(out)
}

/// A tensor seen through the safetensors [`View`] trait, encoded as little-endian F32.
struct F32View<'a>(&'a Tensor);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        self.0.shape()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.data().iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn data_len(&self) -> usize {
        self.0.len() * 4
    }
}

fn serialize_with_origin(
    tensors: &BTreeMap<String, Tensor>,
    origin: &str,
) -> Result<Vec<u8>, TensorIoError> {
    if tensors.contains_key("__metadata__") {
        return Err(TensorIoError::Serialize {
            origin: origin.to_string(),
            reason: "`__metadata__` is reserved by the safetensors format".to_string(),
        });
    }
    let views = tensors.iter().map(|(name, t)| (name.as_str(), F32View(t)));
    safetensors::serialize(views, None).map_err(|e| TensorIoError::Serialize {
        origin: origin.to_string(),
        reason: e.to_string(),
    })
}

/// Encodes tensors as the bytes of a safetensors file (all F32).
pub fn serialize_safetensors(tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, TensorIoError> {
    serialize_with_origin(tensors, "<memory>")
}

/// Writes tensors to a safetensors file (all F32), replacing any existing file.
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
) -> Result<(), TensorIoError> {
    let bytes = serialize_with_origin(tensors, &path.display().to_string())?;
    std::fs::write(path, bytes).map_err(|source| TensorIoError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<String, Tensor> {
        let mut m = BTreeMap::new();
        m.insert(
            "a.weight".to_string(),
            Tensor::from_vec([2, 3], vec![1.0, -2.5, 3.25, 0.0, 1e-8, -7.0]),
        );
        m.insert("b".to_string(), Tensor::from_vec([1], vec![42.0]));
        m.insert("empty".to_string(), Tensor::zeros([0, 4]));
        m
    }

    #[test]
    fn round_trip_in_memory() {
        let m = sample();
        let bytes = serialize_safetensors(&m).unwrap();
        assert_eq!(parse_safetensors(&bytes, "mem").unwrap(), m);
    }

    #[test]
    fn reserved_name_is_an_error() {
        let mut m = BTreeMap::new();
        m.insert("__metadata__".to_string(), Tensor::zeros([1]));
        let err = serialize_safetensors(&m).unwrap_err();
        assert!(err.to_string().contains("__metadata__"), "{err}");
    }

    #[test]
    fn truncated_and_garbage_bytes_are_errors() {
        let bytes = serialize_safetensors(&sample()).unwrap();
        for cut in 0..bytes.len() {
            let err = parse_safetensors(&bytes[..cut], "cut.safetensors").unwrap_err();
            assert!(
                matches!(err, TensorIoError::Invalid { .. }),
                "cut at {cut}: {err}"
            );
            assert!(err.to_string().contains("cut.safetensors"));
        }
        let garbage: [&[u8]; 4] = [
            b"hello",
            b"\xff\xff\xff\xff\xff\xff\xff\xff{}",
            b"\x02\0\0\0\0\0\0\0[]",
            b"\x02\0\0\0\0\0\0\0{}trailing",
        ];
        for g in garbage {
            assert!(parse_safetensors(g, "g").is_err(), "{g:?}");
        }
        // The smallest valid file: an empty header object and no tensors.
        assert!(
            parse_safetensors(b"\x02\0\0\0\0\0\0\0{}", "g")
                .unwrap()
                .is_empty()
        );
    }

    /// A safetensors file holding `w` (F32 [2]) and `n` (I64 [], PyTorch's counter).
    fn with_counter() -> Vec<u8> {
        let header = br#"{"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend(1.5f32.to_le_bytes());
        bytes.extend((-2.0f32).to_le_bytes());
        bytes.extend(3i64.to_le_bytes());
        bytes
    }

    #[test]
    fn checkpoints_skip_integer_tensors_by_name_and_dtype() {
        let checkpoint = parse_checkpoint(&with_counter(), "sd.safetensors").unwrap();
        assert_eq!(
            checkpoint.tensors["w"],
            Tensor::from_vec([2], vec![1.5, -2.0])
        );
        assert_eq!(checkpoint.tensors.len(), 1);
        assert_eq!(
            checkpoint.skipped,
            [SkippedTensor {
                name: "n".into(),
                dtype: "I64".into(),
                shape: vec![]
            }]
        );
        // Tensors (inputs, weights read strictly) still refuse them, naming the tensor.
        let err = parse_safetensors(&with_counter(), "sd.safetensors").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sd.safetensors`: tensor `n` has unsupported dtype I64 (expected F32, F16 or BF16)"
        );
    }
}
