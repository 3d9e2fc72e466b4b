//! Decoding ONNX tensors (initializers, `Constant` values) into f32 weights or the i64
//! values of shape computations, from inline fields or external data files.
//!
//! External data is read relative to the model's folder; a location that is absolute, has a
//! `..` part or resolves (through links) outside that folder is refused.

use crate::error::OnnxError;
use crate::proto::TensorProto;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// ONNX `TensorProto.DataType` codes scc reads.
pub(crate) mod dtype {
    pub const FLOAT: i32 = 1;
    pub const DOUBLE: i32 = 11;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const BOOL: i32 = 9;
    pub const FLOAT16: i32 = 10;
    pub const BFLOAT16: i32 = 16;
}

/// The name ONNX gives a data type code.
pub(crate) fn dtype_name(code: i32) -> String {
    use crate::proto::tensor_proto::DataType;
    match DataType::try_from(code) {
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => format!("code {code}"),
    }
}

/// The values of a tensor known at import time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A tensor known at import time: an initializer, a `Constant`, or a folded shape computation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Const {
    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }

    pub fn f32s(data: Vec<f32>, shape: Vec<usize>) -> Const {
        Const {
            shape,
            data: Data::F32(data),
        }
    }

    pub fn i64s(data: Vec<i64>, shape: Vec<usize>) -> Const {
        Const {
            shape,
            data: Data::I64(data),
        }
    }

    /// The values as f64 (integers converted).
    pub fn as_f64(&self) -> Vec<f64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// The values as i64 (floats truncated), for shapes, axes and indices.
    pub fn as_i64(&self) -> Vec<i64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I64(v) => v.clone(),
        }
    }
}

/// Reads tensors of one model, resolving external data against the model's folder.
pub(crate) struct TensorReader {
    /// The model's path as the user gave it, quoted in errors.
    pub origin: String,
    /// The model's folder, when it was read from a file.
    pub dir: Option<PathBuf>,
}

/// The most elements a tensor may declare (keeps every size computation in range).
const MAX_ELEMENTS: usize = 1 << 34;

impl TensorReader {
    fn error(&self, tensor: &str, message: impl Into<String>) -> OnnxError {
        OnnxError::Tensor {
            origin: self.origin.clone(),
            tensor: tensor.to_string(),
            message: message.into(),
        }
    }

    /// The tensor's shape, checked: non-negative dimensions, a bounded element count.
    pub fn shape(&self, t: &TensorProto) -> Result<Vec<usize>, OnnxError> {
        let mut shape = Vec::with_capacity(t.dims.len());
        let mut count: usize = 1;
        for &d in &t.dims {
            let d = usize::try_from(d)
                .map_err(|_| self.error(t.name(), format!("negative dimension {d}")))?;
            count = count
                .checked_mul(d)
                .filter(|&c| c <= MAX_ELEMENTS)
                .ok_or_else(|| self.error(t.name(), "more elements than scc can hold"))?;
            shape.push(d);
        }
        Ok(shape)
    }

    /// Decodes a tensor: FLOAT as it is, FLOAT16 and BFLOAT16 widened, integer and boolean
    /// types as i64 (for shapes and indices); any other type is an error naming it.
    pub fn read(&self, t: &TensorProto) -> Result<Const, OnnxError> {
        let name = t.name();
        let shape = self.shape(t)?;
        let count: usize = shape.iter().product();
        let code = t.data_type();
        let element_bytes = match code {
            dtype::FLOAT | dtype::INT32 => 4,
            dtype::FLOAT16 | dtype::BFLOAT16 => 2,
            dtype::INT64 => 8,
            dtype::UINT8 | dtype::INT8 | dtype::BOOL => 1,
            other => {
                return Err(self.error(
                    name,
                    format!(
                        "data type {} is not supported (scc reads FLOAT; FLOAT16 and BFLOAT16 are widened, integers only in shape computations)",
                        dtype_name(other)
                    ),
                ));
            }
        };
        let external = t.data_location() == crate::proto::tensor_proto::DataLocation::External;
        let raw: Option<Vec<u8>> = if external {
            Some(self.external(t, count * element_bytes)?)
        } else {
            t.raw_data.clone()
        };
        let wrong_count = |found: usize| {
            self.error(
                name,
                format!(
                    "holds {found} values, its shape {shape:?} needs {count}",
                    shape = shape
                ),
            )
        };
        let data = match raw {
            Some(bytes) => {
                if bytes.len() != count * element_bytes {
                    return Err(self.error(
                        name,
                        format!(
                            "holds {} bytes of data, its shape {shape:?} and type {} need {}",
                            bytes.len(),
                            dtype_name(code),
                            count * element_bytes
                        ),
                    ));
                }
                decode_raw(code, &bytes)
            }
            None => {
                let data = match code {
                    dtype::FLOAT => Data::F32(t.float_data.clone()),
                    dtype::FLOAT16 => Data::F32(
                        t.int32_data
                            .iter()
                            .map(|&b| half::f16::from_bits(b as u16).to_f32())
                            .collect(),
                    ),
                    dtype::BFLOAT16 => Data::F32(
                        t.int32_data
                            .iter()
                            .map(|&b| half::bf16::from_bits(b as u16).to_f32())
                            .collect(),
                    ),
                    dtype::INT64 => Data::I64(t.int64_data.clone()),
                    _ => Data::I64(t.int32_data.iter().map(|&v| i64::from(v)).collect()),
                };
                let found = match &data {
                    Data::F32(v) => v.len(),
                    Data::I64(v) => v.len(),
                };
                if found != count {
                    return Err(wrong_count(found));
                }
                data
            }
        };
        Ok(Const { shape, data })
    }

    /// [`TensorReader::read`], with one more type for the values of `Constant` nodes: small
    /// DOUBLE tensors (the scalars the legacy exporter writes without constant folding, which
    /// the graph casts to FLOAT), narrowed to f32.
    pub fn read_constant(&self, t: &TensorProto) -> Result<Const, OnnxError> {
        /// Larger DOUBLE tensors are weights of a double model, which scc does not run.
        const MAX_DOUBLES: usize = 64;
        if t.data_type() != dtype::DOUBLE {
            return self.read(t);
        }
        let shape = self.shape(t)?;
        let count: usize = shape.iter().product();
        let values: Vec<f64> = match &t.raw_data {
            Some(bytes) if bytes.len() == count * 8 && count <= MAX_DOUBLES => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
            None if t.double_data.len() == count && count <= MAX_DOUBLES => t.double_data.clone(),
            _ => return self.read(t),
        };
        Ok(Const::f32s(
            values.iter().map(|&v| v as f32).collect(),
            shape,
        ))
    }

    /// The bytes of an externally stored tensor.
    fn external(&self, t: &TensorProto, expected: usize) -> Result<Vec<u8>, OnnxError> {
        let name = t.name();
        let mut location = None;
        let mut offset: u64 = 0;
        let mut length: Option<u64> = None;
        for entry in &t.external_data {
            let value = entry.value();
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    self.error(
                        name,
                        format!(
                            "external data `{}` is `{value}`, not a byte count",
                            entry.key()
                        ),
                    )
                })
            };
            match entry.key() {
                "location" => location = Some(value.to_string()),
                "offset" => offset = number()?,
                "length" => length = Some(number()?),
                _ => {}
            }
        }
        let location =
            location.ok_or_else(|| self.error(name, "external data without a `location`"))?;
        let Some(dir) = &self.dir else {
            return Err(self.error(
                name,
                format!(
                    "its data is in the external file `{location}`, but the model was not read from a file"
                ),
            ));
        };
        let relative = Path::new(&location);
        let escapes = relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes || location.is_empty() {
            return Err(self.error(
                name,
                format!(
                    "external data location `{location}` leaves the model's folder (it must be a relative path without `..`)"
                ),
            ));
        }
        let path = dir.join(relative);
        let read_error = |source: std::io::Error| OnnxError::Read {
            path: path.clone(),
            source,
        };
        // Links may still point elsewhere: the resolved file must be inside the resolved folder.
        let resolved = path.canonicalize().map_err(|e| {
            self.error(
                name,
                format!(
                    "external data file `{}` cannot be opened: {e}",
                    path.display()
                ),
            )
        })?;
        let folder = dir.canonicalize().map_err(read_error)?;
        if !resolved.starts_with(&folder) {
            return Err(self.error(
                name,
                format!(
                    "external data file `{}` resolves to `{}`, outside the model's folder",
                    path.display(),
                    resolved.display()
                ),
            ));
        }
        let length = length.unwrap_or(expected as u64);
        if length != expected as u64 {
            return Err(self.error(
                name,
                format!("external data length {length} does not match its shape and type ({expected} bytes)"),
            ));
        }
        let mut file = std::fs::File::open(&resolved).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        if offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(self.error(
                name,
                format!(
                    "external data at bytes {offset}..{} of `{}` lies past its end ({size} bytes)",
                    offset.saturating_add(length),
                    path.display()
                ),
            ));
        }
        file.seek(SeekFrom::Start(offset)).map_err(read_error)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(expected)
            .map_err(|_| self.error(name, "not enough memory for its data"))?;
        file.take(length)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        Ok(bytes)
    }
}

fn decode_raw(code: i32, bytes: &[u8]) -> Data {
    match code {
        dtype::FLOAT => Data::F32(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ),
        dtype::FLOAT16 => Data::F32(
            bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        dtype::BFLOAT16 => Data::F32(
            bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        ),
        dtype::INT64 => Data::I64(
            bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
        ),
        dtype::INT32 => Data::I64(
            bytes
                .chunks_exact(4)
                .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
        ),
        dtype::INT8 => Data::I64(bytes.iter().map(|&b| i64::from(b as i8)).collect()),
        _ => Data::I64(bytes.iter().map(|&b| i64::from(b)).collect()),
    }
}
