//! Reading and writing safetensors files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, serialize};
use scc_runtime::{
    Tensor, TensorIoError, parse_safetensors, read_safetensors, serialize_safetensors,
    write_safetensors,
};

/// A per-test path in the system temporary directory.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("scc-runtime-{}-{name}", std::process::id()))
}

fn sample() -> BTreeMap<String, Tensor> {
    let mut m = BTreeMap::new();
    m.insert(
        "layer1.conv1.alpha".to_string(),
        Tensor::from_vec(
            [2, 1, 2, 2],
            vec![1.0, -0.5, 3.0e-7, 1.0e20, 0.0, -0.0, 7.25, -1.0],
        ),
    );
    m.insert(
        "fc.bias".to_string(),
        Tensor::from_vec([3], vec![0.1, 0.2, 0.3]),
    );
    m
}

#[test]
fn file_round_trip() {
    let path = temp_path("round_trip.safetensors");
    let m = sample();
    write_safetensors(&path, &m).unwrap();
    let back = read_safetensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back, m);
    // Bit-exact, including the sign of zero.
    let a = &back["layer1.conv1.alpha"];
    assert!(a.data()[5].is_sign_negative());
}

#[test]
fn written_files_are_standard_f32_safetensors() {
    let bytes = serialize_safetensors(&sample()).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor("fc.bias").unwrap();
    assert_eq!(view.dtype(), Dtype::F32);
    assert_eq!(view.shape(), &[3]);
    assert_eq!(&view.data()[..4], &0.1f32.to_le_bytes());
}

#[test]
fn f16_and_bf16_are_widened() {
    let halves = [1.0f32, -2.5, 0.1, 65504.0];
    let f16_bytes: Vec<u8> = halves
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16_bytes: Vec<u8> = halves
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let f32_bytes: Vec<u8> = [5.0f32, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![
        (
            "h",
            TensorView::new(Dtype::F16, vec![2, 2], &f16_bytes).unwrap(),
        ),
        (
            "b",
            TensorView::new(Dtype::BF16, vec![4], &bf16_bytes).unwrap(),
        ),
        (
            "f",
            TensorView::new(Dtype::F32, vec![2], &f32_bytes).unwrap(),
        ),
    ];
    let bytes = serialize(views, None).unwrap();
    let m = parse_safetensors(&bytes, "mixed.safetensors").unwrap();
    let want_h: Vec<f32> = halves
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    let want_b: Vec<f32> = halves
        .iter()
        .map(|&v| half::bf16::from_f32(v).to_f32())
        .collect();
    assert_eq!(m["h"], Tensor::from_vec([2, 2], want_h));
    assert_eq!(m["b"], Tensor::from_vec([4], want_b));
    assert_eq!(m["f"], Tensor::from_vec([2], vec![5.0, 6.0]));
    // Exact values that survive both formats.
    assert_eq!(m["h"].data()[..2], [1.0, -2.5]);
    assert_eq!(m["b"].data()[..2], [1.0, -2.5]);
}

#[test]
fn unsupported_dtype_names_the_tensor() {
    let bytes_f64: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes_f32: Vec<u8> = 1.0f32.to_le_bytes().to_vec();
    let views = vec![
        (
            "ok",
            TensorView::new(Dtype::F32, vec![1], &bytes_f32).unwrap(),
        ),
        (
            "stem.weight",
            TensorView::new(Dtype::F64, vec![2], &bytes_f64).unwrap(),
        ),
    ];
    let bytes = serialize(views, None).unwrap();
    let err = parse_safetensors(&bytes, "w.safetensors").unwrap_err();
    match &err {
        TensorIoError::UnsupportedDtype {
            origin,
            name,
            dtype,
        } => {
            assert_eq!(origin, "w.safetensors");
            assert_eq!(name, "stem.weight");
            assert_eq!(dtype, "F64");
        }
        other => panic!("unexpected error {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("stem.weight") && msg.contains("F64") && msg.contains("w.safetensors"));
}

#[test]
fn missing_file_is_a_read_error() {
    let path = temp_path("does-not-exist.safetensors");
    let err = read_safetensors(&path).unwrap_err();
    assert!(matches!(err, TensorIoError::Read { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.safetensors"));
}

#[test]
fn corrupt_file_names_the_path() {
    let path = temp_path("corrupt.safetensors");
    let mut bytes = serialize_safetensors(&sample()).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).unwrap();
    let err = read_safetensors(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err, TensorIoError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("corrupt.safetensors"), "{err}");
    assert!(
        err.to_string().contains("not a valid safetensors file"),
        "{err}"
    );
}

#[test]
fn write_to_missing_directory_is_a_write_error() {
    let path = temp_path("no-such-dir").join("out.safetensors");
    let err = write_safetensors(&path, &sample()).unwrap_err();
    assert!(matches!(err, TensorIoError::Write { .. }), "{err}");
    assert!(err.to_string().contains("out.safetensors"));
}

proptest! {
    #![proptest_config(scc_testkit::config(500))]

    /// Arbitrary bytes never make the parser panic.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_safetensors(&bytes, "fuzz");
    }

    /// Valid files with a few corrupted bytes never make the parser panic.
    #[test]
    fn corrupted_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = serialize_safetensors(&sample()).unwrap();
        for (index, value) in edits {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        let _ = parse_safetensors(&bytes, "fuzz");
    }

    /// Random tensors survive a round trip bit-exactly.
    #[test]
    fn round_trip_random(
        shapes in proptest::collection::vec(proptest::collection::vec(0usize..4, 0..4), 0..4),
        seed in any::<u64>(),
    ) {
        let mut rng = scc_runtime::random::WeightRng::new(seed);
        let m: BTreeMap<String, Tensor> = shapes
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("t{i}"), rng.normal(s, 1.0)))
            .collect();
        let back = parse_safetensors(&serialize_safetensors(&m).unwrap(), "mem").unwrap();
        prop_assert_eq!(back, m);
    }
}
