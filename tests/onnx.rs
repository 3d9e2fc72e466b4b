//! ONNX import end to end, without PyTorch: the small models of `tests/data/onnx/` (exported
//! by both PyTorch exporters or built with `onnx.helper`, made by its `make.py` and
//! `make_transpose.py`) against ONNX Runtime's outputs, through
//! `scc run MODEL.onnx` and through the `.sc` that `scc import` writes; graphs built here for
//! the operators and attribute forms the exporters did not produce; and one test per error
//! class asserting the whole message.

mod common;

use common::{assert_close, repo_path, scc, scc_ok};
use prost::Message;
use scc::scc_onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto, type_proto,
};
use scc::{Model, OnnxOptions, Tensor};
use std::collections::BTreeMap;
use std::path::Path;

const DATA: &str = "tests/data/onnx";
const MODELS: [&str; 11] = [
    "ops_dynamo",
    "ops_legacy",
    "ops_legacy13",
    "extended_dynamo",
    "extended_legacy",
    "extended_legacy13",
    "extended_nofold",
    "extended_train",
    "permute_dynamo",
    "permute_legacy",
    "gemm_transposes",
];

fn read(path: &Path) -> BTreeMap<String, Tensor> {
    scc::runtime::read_safetensors(path).unwrap()
}

#[test]
fn exported_models_match_onnx_runtime_through_scc_run() {
    let dir = tempfile::tempdir().unwrap();
    for name in MODELS {
        let model = format!("{DATA}/{name}.onnx");
        let out = dir.path().join(format!("{name}.out.safetensors"));
        scc_ok(&[
            "run",
            &model,
            "--inputs",
            &format!("{model}.inputs.safetensors"),
            "--save",
            out.to_str().unwrap(),
        ]);
        let expected = read(&repo_path(&format!("{model}.ort.safetensors")));
        let got = read(&out);
        // Outputs are saved under the ONNX graph's names (`61`, `softmax`).
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (key, want) in &expected {
            assert_close(&format!("{name} {key}"), &got[key], want);
        }
    }
}

#[test]
fn exported_models_match_onnx_runtime_in_both_engines() {
    for name in MODELS {
        let path = repo_path(&format!("{DATA}/{name}.onnx"));
        let model = Model::from_onnx(&path, &OnnxOptions::default()).unwrap();
        let (weights, _) = model
            .bind_embedded_weights(&scc::BindOptions::default())
            .unwrap()
            .unwrap();
        let inputs = read(&repo_path(&format!(
            "{DATA}/{name}.onnx.inputs.safetensors"
        )));
        let expected = read(&repo_path(&format!("{DATA}/{name}.onnx.ort.safetensors")));
        for engine in [scc::Engine::Jit, scc::Engine::Interpreter] {
            let options = scc::Options {
                engine,
                ..scc::Options::default()
            };
            let outputs = scc::compile(&model, &weights, &options)
                .unwrap()
                .run(&inputs)
                .unwrap();
            for (key, got) in outputs {
                assert_close(&format!("{name} {key} {engine:?}"), &got, &expected[&key]);
            }
        }
        // The unoptimised graph as lowered, by the oracle.
        let outputs = model.interpret(&weights, &inputs).unwrap();
        assert_close(name, &outputs[0].1, expected.values().next().unwrap());
    }
}

#[test]
fn imported_sc_files_match_onnx_runtime_and_their_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    for name in MODELS {
        let model = format!("{DATA}/{name}.onnx");
        let sc = dir.path().join(format!("{name}.sc"));
        let stdout = scc_ok(&["import", &model, "-o", sc.to_str().unwrap()]);
        assert!(
            stdout.starts_with(&format!("wrote {}", sc.display())),
            "{stdout}"
        );
        let text = std::fs::read_to_string(&sc).unwrap();
        // The snapshot of the readable .sc (BLESS=1 rewrites it).
        let snapshot = repo_path(&format!("{DATA}/{name}.sc"));
        let shown = text.replace(&dir.path().display().to_string(), "<out>");
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&snapshot, &shown).unwrap();
        } else {
            let expected = std::fs::read_to_string(&snapshot)
                .unwrap_or_else(|_| panic!("missing {}; BLESS=1 writes it", snapshot.display()));
            assert_eq!(
                shown, expected,
                "{name}: the imported .sc differs (BLESS=1 to update)"
            );
        }
        // Inputs by their .sc names (the header names each renamed ONNX input).
        let model_sc = Model::from_file(&sc, None).unwrap();
        let onnx_inputs = read(&repo_path(&format!("{model}.inputs.safetensors")));
        let (_, onnx_input) = onnx_inputs.into_iter().next().unwrap();
        let inputs: BTreeMap<String, Tensor> = [(model_sc.inputs()[0].0.clone(), onnx_input)]
            .into_iter()
            .collect();
        let (weights, _) = model_sc
            .load_weights(
                sc.with_extension("safetensors"),
                &scc::BindOptions::default(),
            )
            .unwrap();
        let outputs = scc::compile(&model_sc, &weights, &scc::Options::default())
            .unwrap()
            .run(&inputs)
            .unwrap();
        let expected = read(&repo_path(&format!("{model}.ort.safetensors")));
        assert_close(name, &outputs[0].1, expected.values().next().unwrap());
    }
}

// ---------------------------------------------------------------------------------------
// ONNX graphs built here.

const FLOAT: i32 = 1;

fn f32_tensor(name: &str, dims: &[i64], data: Vec<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(FLOAT),
        float_data: data,
        ..TensorProto::default()
    }
}

fn i64_tensor(name: &str, data: Vec<i64>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![data.len() as i64],
        data_type: Some(7),
        int64_data: data,
        ..TensorProto::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(7),
        ints: ints.to_vec(),
        ..AttributeProto::default()
    }
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(2),
        i: Some(i),
        ..AttributeProto::default()
    }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(1),
        f: Some(f),
        ..AttributeProto::default()
    }
}

fn attr_str(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(3),
        s: Some(s.as_bytes().to_vec()),
        ..AttributeProto::default()
    }
}

fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..NodeProto::default()
    }
}

/// A float tensor value; a dimension of 0 is symbolic (`batch`).
fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::dimension::Value as Dim;
    let dim = dims
        .iter()
        .map(|&d| tensor_shape_proto::Dimension {
            value: Some(if d == 0 {
                Dim::DimParam("batch".into())
            } else {
                Dim::DimValue(d)
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(FLOAT),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

fn model(
    opset: i64,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    input: ValueInfoProto,
    output: &str,
) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        producer_name: Some("scc tests".into()),
        graph: Some(GraphProto {
            name: Some("g".into()),
            node: nodes,
            initializer: inits,
            input: vec![input],
            output: vec![value(output, &[])],
            ..GraphProto::default()
        }),
        ..ModelProto::default()
    }
}

fn ramp(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7) % 13) as f32 * scale - 6.0 * scale)
        .collect()
}

fn save(dir: &Path, name: &str, m: &ModelProto) -> String {
    let path = dir.join(name);
    std::fs::write(&path, m.encode_to_vec()).unwrap();
    path.display().to_string()
}

/// Runs an imported model and a `.sc` reference with the given weights on the same input.
fn same_as_sc(onnx: &str, sc: &str, weights: Vec<(&str, Tensor)>, input_shape: &[usize]) {
    let imported = Model::from_onnx(onnx, &OnnxOptions::default())
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let (w, _) = imported
        .bind_embedded_weights(&scc::BindOptions::default())
        .unwrap()
        .unwrap();
    let reference =
        Model::from_source("reference.sc", sc, None).unwrap_or_else(|e| panic!("{}", e.render()));
    let (rw, _) = reference
        .bind_weights(
            weights
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            &scc::BindOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let x = scc::runtime::random::WeightRng::new(3).uniform(input_shape, 1.0);
    let got = imported
        .interpret(
            &w,
            &[(imported.inputs()[0].0.clone(), x.clone())]
                .into_iter()
                .collect(),
        )
        .unwrap();
    let want = reference
        .interpret(
            &rw,
            &[(reference.inputs()[0].0.clone(), x)].into_iter().collect(),
        )
        .unwrap();
    assert_close(onnx, &got[0].1, &want[0].1);
}

/// Gemm with transB=0, alpha and beta; MatMul + Add; a `Shape → Gather → Unsqueeze → Concat
/// → Reshape` flatten; Constant, Identity and Dropout; Softmax over the last axis.
#[test]
fn gemm_matmul_and_shape_computations() {
    let dir = tempfile::tempdir().unwrap();
    let b = ramp(6 * 4, 0.1); // [F=6, out=4] (transB=0)
    let w2 = ramp(4 * 3, 0.2); // MatMul B [4, 3]
    let nodes = vec![
        node("Shape", "shape", &["x"], &["s"], vec![]),
        node(
            "Constant",
            "zero",
            &[],
            &["i0"],
            vec![AttributeProto {
                name: Some("value".into()),
                r#type: Some(4),
                t: Some(i64_tensor("", vec![0])),
                ..AttributeProto::default()
            }],
        ),
        node(
            "Gather",
            "batch",
            &["s", "i0"],
            &["n"],
            vec![attr_int("axis", 0)],
        ),
        node(
            "Concat",
            "target",
            &["n", "minus_one"],
            &["t"],
            vec![attr_int("axis", 0)],
        ),
        node("Reshape", "flat", &["x", "t"], &["f"], vec![]),
        node("Identity", "same", &["f"], &["f2"], vec![]),
        node(
            "Gemm",
            "fc1",
            &["f2", "fc1.weight", "fc1.bias"],
            &["g"],
            vec![attr_float("alpha", 2.0), attr_float("beta", 0.5)],
        ),
        node("Dropout", "drop", &["g"], &["g2"], vec![]),
        node("MatMul", "fc2", &["g2", "fc2.weight"], &["m"], vec![]),
        node("Add", "fc2_bias", &["m", "fc2.bias"], &["a"], vec![]),
        node(
            "Softmax",
            "probs",
            &["a"],
            &["y"],
            vec![attr_int("axis", -1)],
        ),
    ];
    let inits = vec![
        i64_tensor("minus_one", vec![-1]),
        f32_tensor("fc1.weight", &[6, 4], b.clone()),
        f32_tensor("fc1.bias", &[4], vec![1.0, -1.0, 0.5, 0.25]),
        f32_tensor("fc2.weight", &[4, 3], w2.clone()),
        f32_tensor("fc2.bias", &[3], vec![0.1, 0.2, 0.3]),
    ];
    let m = model(17, nodes, inits, value("x", &[2, 6, 1, 1]), "y");
    let path = save(dir.path(), "gemm.onnx", &m);
    let transpose = |d: &[f32], r: usize, c: usize, scale: f32| -> Vec<f32> {
        (0..c)
            .flat_map(|j| (0..r).map(move |i| d[i * c + j] * scale))
            .collect()
    };
    same_as_sc(
        &path,
        "model r(x: [2, 6, 1, 1]) { let fc1 = linear(flatten(x), 4); let fc2 = linear(fc1, 3); return softmax(fc2); }",
        vec![
            (
                "fc1.weight",
                Tensor::from_vec([4, 6], transpose(&b, 6, 4, 2.0)),
            ),
            (
                "fc1.bias",
                Tensor::from_vec([4], vec![0.5, -0.5, 0.25, 0.125]),
            ),
            (
                "fc2.weight",
                Tensor::from_vec([3, 4], transpose(&w2, 4, 3, 1.0)),
            ),
            ("fc2.bias", Tensor::from_vec([3], vec![0.1, 0.2, 0.3])),
        ],
        &[2, 6, 1, 1],
    );
}

/// SAME_UPPER padding that comes out symmetric, Clip with bounds as inputs (opset 11+),
/// AveragePool counting its padding, ReduceMean over H and W without keepdims, Resize by
/// `sizes`, an FLOAT16 initializer (widened) and an `Upsample` of opset 9.
#[test]
fn attribute_forms_and_older_opsets() {
    let dir = tempfile::tempdir().unwrap();
    let w = ramp(4 * 3 * 3 * 3, 0.05);
    let w16: Vec<u8> = w
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let w_widened: Vec<f32> = w.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
    let nodes = vec![
        node(
            "Conv",
            "conv",
            &["x", "conv.weight"],
            &["c"],
            vec![
                attr_str("auto_pad", "SAME_UPPER"),
                attr_ints("kernel_shape", &[3, 3]),
            ],
        ),
        node("Clip", "clip", &["c", "lo", "hi"], &["r"], vec![]),
        node(
            "AveragePool",
            "pool",
            &["r"],
            &["p"],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("pads", &[1, 1, 1, 1]),
                attr_ints("strides", &[1, 1]),
                attr_int("count_include_pad", 1),
            ],
        ),
        node(
            "Resize",
            "up",
            &["p", "", "", "sizes"],
            &["u"],
            vec![
                attr_str("mode", "nearest"),
                attr_str("coordinate_transformation_mode", "asymmetric"),
                attr_str("nearest_mode", "floor"),
            ],
        ),
        node(
            "ReduceMean",
            "mean",
            &["u"],
            &["y"],
            vec![attr_ints("axes", &[2, 3]), attr_int("keepdims", 0)],
        ),
    ];
    let inits = vec![
        TensorProto {
            name: Some("conv.weight".into()),
            dims: vec![4, 3, 3, 3],
            data_type: Some(10),
            raw_data: Some(w16),
            ..TensorProto::default()
        },
        f32_tensor("lo", &[], vec![0.0]),
        f32_tensor("hi", &[], vec![6.0]),
        i64_tensor("sizes", vec![1, 4, 10, 10]),
    ];
    let m = model(13, nodes, inits, value("x", &[1, 3, 5, 5]), "y");
    let path = save(dir.path(), "forms.onnx", &m);
    let sc = "model r(x: [1, 3, 5, 5]) { let conv = conv2d(x, 4, kernel=3, pad=1); let p = avgpool(relu6(conv), 3, stride=1, pad=1); return flatten(global_avgpool(upsample(p, 2))); }";
    same_as_sc(
        &path,
        sc,
        vec![("conv.weight", Tensor::from_vec([4, 3, 3, 3], w_widened))],
        &[1, 3, 5, 5],
    );

    let nodes = vec![node(
        "Upsample",
        "up",
        &["x", "scales"],
        &["y"],
        vec![attr_str("mode", "nearest")],
    )];
    let inits = vec![f32_tensor("scales", &[4], vec![1.0, 1.0, 3.0, 3.0])];
    let m = model(9, nodes, inits, value("x", &[1, 2, 3, 3]), "y");
    let path = save(dir.path(), "upsample9.onnx", &m);
    same_as_sc(
        &path,
        "model r(x: [1, 2, 3, 3]) { return upsample(x, 3); }",
        vec![],
        &[1, 2, 3, 3],
    );
}

/// A symbolic batch dimension needs `--input-shape`; with it, batch 3 runs.
#[test]
fn symbolic_dimensions_are_named_and_fixed_by_input_shape() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(
        17,
        vec![node("Relu", "relu", &["input.1"], &["648"], vec![])],
        vec![],
        value("input.1", &[0, 3, 4, 4]),
        "648",
    );
    let path = save(dir.path(), "sym.onnx", &m);
    let out = scc(&["check", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "<dir>"),
        "error: `<dir>/sym.onnx`: input `input.1` has a symbolic dimension `batch` (dimension 0) without a size; give it with --input-shape input.1=1,3,4,4\n"
    );
    let stdout = scc_ok(&["check", &path, "--input-shape", "input.1=3,3,4,4"]);
    assert!(
        stdout.starts_with("model `sym` (input.1: [3, 3, 4, 4])"),
        "{stdout}"
    );
    assert!(stdout.contains("outputs: 648: [3, 3, 4, 4]"), "{stdout}");
}

/// The whole message of `scc check MODEL.onnx`, with the temporary folder shown as `<dir>`.
fn check_error(dir: &Path, file: &str) -> String {
    let out = scc(&["check", &dir.join(file).display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr.replace(&dir.display().to_string(), "<dir>")
}

fn conv_model(weight: TensorProto) -> ModelProto {
    model(
        17,
        vec![node(
            "Conv",
            "/conv/Conv",
            &["x", "conv.weight"],
            &["y"],
            vec![],
        )],
        vec![weight],
        value("x", &[1, 2, 3, 3]),
        "y",
    )
}

#[test]
fn unsupported_operators_are_listed_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = model(
        17,
        vec![
            node("Relu", "ok", &["x"], &["a"], vec![]),
            node("LSTM", "/rnn/LSTM", &["a"], &["b"], vec![]),
            node("Relu", "fine", &["b"], &["c"], vec![]),
            NodeProto {
                domain: Some("com.example".into()),
                ..node("FancyOp", "", &["c"], &["y"], vec![])
            },
        ],
        vec![],
        value("x", &[1, 2, 3, 3]),
        "y",
    );
    m.opset_import.push(OperatorSetIdProto {
        domain: Some("com.example".into()),
        version: Some(2),
    });
    save(dir.path(), "unsupported.onnx", &m);
    assert_eq!(
        check_error(dir.path(), "unsupported.onnx"),
        "error: `<dir>/unsupported.onnx` uses 2 operators scc does not support:\n  \
         - node `/rnn/LSTM`: op `LSTM` (domain `ai.onnx`, opset 17)\n  \
         - node `#3`: op `FancyOp` (domain `com.example`, opset 2)\n"
    );
}

#[test]
fn malformed_and_truncated_protobuf_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = conv_model(f32_tensor("conv.weight", &[4, 2, 1, 1], vec![1.0; 8])).encode_to_vec();
    std::fs::write(dir.path().join("cut.onnx"), &bytes[..bytes.len() - 7]).unwrap();
    std::fs::write(
        dir.path().join("garbage.onnx"),
        b"\xff\xff\xff\xff not a model",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.onnx"), b"").unwrap();
    assert_eq!(
        check_error(dir.path(), "cut.onnx"),
        "error: `<dir>/cut.onnx` is not a valid ONNX model: the protobuf does not decode (failed to decode Protobuf message: ModelProto.graph: buffer underflow)\n"
    );
    assert_eq!(
        check_error(dir.path(), "garbage.onnx"),
        "error: `<dir>/garbage.onnx` is not a valid ONNX model: the protobuf does not decode (failed to decode Protobuf message: invalid key value: 8858370047)\n"
    );
    assert_eq!(
        check_error(dir.path(), "empty.onnx"),
        "error: `<dir>/empty.onnx` is not a valid ONNX model: it holds no graph\n"
    );
    // Every truncation of a real export is an error, never a panic.
    let real = std::fs::read(repo_path(&format!("{DATA}/ops_legacy.onnx"))).unwrap();
    for cut in (0..real.len()).step_by(97) {
        let m = scc::scc_onnx::decode_model(&real[..cut], "cut");
        if let Ok(m) = m {
            let _ = scc::scc_onnx::import_model(&m, "cut", None, &Default::default());
        }
    }
}

#[test]
fn external_data_must_exist_and_stay_in_the_model_folder() {
    let dir = tempfile::tempdir().unwrap();
    let external = |location: &str| {
        let mut t = f32_tensor("conv.weight", &[4, 2, 1, 1], vec![]);
        t.data_location = Some(1);
        t.external_data = vec![StringStringEntryProto {
            key: Some("location".into()),
            value: Some(location.into()),
        }];
        conv_model(t)
    };
    save(dir.path(), "missing.onnx", &external("weights.bin"));
    save(dir.path(), "escaping.onnx", &external("../weights.bin"));
    save(dir.path(), "absolute.onnx", &external("/etc/passwd"));
    std::fs::write(dir.path().join("short.bin"), [0u8; 12]).unwrap();
    save(dir.path(), "short.onnx", &external("short.bin"));
    assert_eq!(
        check_error(dir.path(), "missing.onnx"),
        "error: `<dir>/missing.onnx`: tensor `conv.weight`: external data file `<dir>/weights.bin` cannot be opened: No such file or directory (os error 2)\n"
    );
    let leaves = "external data location `../weights.bin` leaves the model's folder (it must be a relative path without `..`)";
    assert_eq!(
        check_error(dir.path(), "escaping.onnx"),
        format!("error: `<dir>/escaping.onnx`: tensor `conv.weight`: {leaves}\n")
    );
    assert!(
        check_error(dir.path(), "absolute.onnx")
            .contains("external data location `/etc/passwd` leaves the model's folder")
    );
    assert_eq!(
        check_error(dir.path(), "short.onnx"),
        "error: `<dir>/short.onnx`: tensor `conv.weight`: external data at bytes 0..32 of `<dir>/short.bin` lies past its end (12 bytes)\n"
    );
}

#[test]
fn non_float_tensors_and_unsupported_attributes_name_their_node() {
    let dir = tempfile::tempdir().unwrap();
    let double = TensorProto {
        name: Some("conv.weight".into()),
        dims: vec![4, 2, 1, 1],
        data_type: Some(11),
        double_data: vec![1.0; 8],
        ..TensorProto::default()
    };
    save(dir.path(), "double.onnx", &conv_model(double));
    assert_eq!(
        check_error(dir.path(), "double.onnx"),
        "error: `<dir>/double.onnx`: tensor `conv.weight`: data type DOUBLE is not supported (scc reads FLOAT; FLOAT16 and BFLOAT16 are widened, integers only in shape computations)\n"
    );
    let m = model(
        17,
        vec![node(
            "Resize",
            "/up/Resize",
            &["x", "", "scales"],
            &["y"],
            vec![attr_str("mode", "linear")],
        )],
        vec![f32_tensor("scales", &[4], vec![1.0, 1.0, 1.3, 1.3])],
        value("x", &[1, 2, 4, 4]),
        "y",
    );
    save(dir.path(), "resize.onnx", &m);
    assert_eq!(
        check_error(dir.path(), "resize.onnx"),
        "error: `<dir>/resize.onnx`: node `/up/Resize` (Resize): scales [1.0, 1.0, 1.2999999523162842, 1.2999999523162842] of [1, 2, 4, 4]: scc resizes by one factor for both axes, or by one that gives the output size exactly\n"
    );
    let m = model(
        17,
        vec![node(
            "MaxPool",
            "/p/MaxPool",
            &["x"],
            &["y"],
            vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_ints("pads", &[0, 0, 1, 1]),
            ],
        )],
        vec![],
        value("x", &[1, 2, 4, 4]),
        "y",
    );
    save(dir.path(), "pads.onnx", &m);
    assert_eq!(
        check_error(dir.path(), "pads.onnx"),
        "error: `<dir>/pads.onnx`: node `/p/MaxPool` (MaxPool): asymmetric padding (top, left) = (0, 0), (bottom, right) = (1, 1): scc pads asymmetrically with zeros, which only an average pool counting its padding reads the same\n"
    );
}

fn attr_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(4),
        t: Some(t),
        ..AttributeProto::default()
    }
}

/// `Pad` with its pads as an input (opset 11) and as attributes (opset 10, with `value`), Clip
/// with only a lower bound (opset 11, max input empty) and with attribute bounds (opset 6),
/// LeakyRelu with its default slope, an average pool in ceil mode not counting its padding, a
/// max pool whose ceil mode changes the output size.
#[test]
fn pad_clip_leaky_relu_and_pool_modes() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![
        node("Pad", "pad", &["x", "pads", "fill"], &["p"], vec![]),
        node("Clip", "clip", &["p", "lo", ""], &["c"], vec![]),
        node("LeakyRelu", "leaky", &["c"], &["l"], vec![]),
        node(
            "AveragePool",
            "avg",
            &["l"],
            &["a"],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[1, 1, 1, 1]),
                attr_int("ceil_mode", 1),
            ],
        ),
        node(
            "MaxPool",
            "max",
            &["a"],
            &["y"],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[2, 2]),
                attr_int("ceil_mode", 1),
            ],
        ),
    ];
    let inits = vec![
        i64_tensor("pads", vec![0, 0, 1, 2, 0, 0, 3, 0]),
        f32_tensor("fill", &[], vec![0.5]),
        f32_tensor("lo", &[], vec![-0.3]),
    ];
    let m = model(13, nodes, inits, value("x", &[2, 3, 6, 5]), "y");
    let path = save(dir.path(), "pad.onnx", &m);
    // Padded 10 x 7; avgpool 3/2/1 in ceil mode: 6 x 4 (floor: 5 x 4); maxpool 3/2 in ceil
    // mode: 3 x 2 (floor: 2 x 1).
    let sc = "model r(x: [2, 3, 6, 5]) {
        let p = pad(x, top=1, left=2, bottom=3, value=0.5);
        let l = leaky_relu(clamp(p, min=-0.3), slope=0.01);
        let a = avgpool(l, kernel=3, stride=2, pad=1, ceil_mode=true, count_include_pad=false);
        return maxpool(a, kernel=3, stride=2, ceil_mode=true);
    }";
    same_as_sc(&path, sc, vec![], &[2, 3, 6, 5]);
    let text = Model::from_onnx(&path, &OnnxOptions::default())
        .unwrap()
        .source()
        .text
        .clone();
    assert!(
        text.contains("let p = pad(x, top=1, left=2, bottom=3, value=0.5); // Pad pad"),
        "{text}"
    );
    assert!(
        text.contains("ceil_mode=true, count_include_pad=false); // AveragePool avg"),
        "{text}"
    );
    assert!(
        text.contains("let y = maxpool(a, kernel=3, stride=2, ceil_mode=true); // MaxPool max"),
        "{text}"
    );

    let nodes = vec![
        node(
            "Pad",
            "pad",
            &["x"],
            &["p"],
            vec![
                attr_ints("pads", &[0, 0, 0, 1, 0, 0, 2, 0]),
                attr_float("value", -1.0),
            ],
        ),
        node(
            "Clip",
            "clip",
            &["p"],
            &["y"],
            vec![attr_float("min", -0.5), attr_float("max", 0.5)],
        ),
    ];
    let m = model(10, nodes, vec![], value("x", &[1, 2, 3, 3]), "y");
    let path = save(dir.path(), "pad10.onnx", &m);
    same_as_sc(
        &path,
        "model r(x: [1, 2, 3, 3]) { return clamp(pad(x, left=1, bottom=2, value=-1.0), min=-0.5, max=0.5); }",
        vec![],
        &[1, 2, 3, 3],
    );
}

/// Tensor–constant arithmetic: scalars on either side (`x * 0.5`, `1 − x`, `2 / x`), and
/// per-channel constants on either side merged into one `affine` layer; `-` and `/` of two
/// tensors, with the `[N, C, 1, 1]` broadcast on the right.
#[test]
fn constant_arithmetic_and_tensor_sub_div() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![
        node("Mul", "half", &["x", "half"], &["a"], vec![]),
        node("Sub", "flip", &["one", "a"], &["b"], vec![]),
        node("Div", "normalise", &["b", "std"], &["c"], vec![]),
        node("Add", "shift", &["mean", "c"], &["d"], vec![]),
        node("Sub", "centre", &["d", "mean4"], &["e"], vec![]),
        node("GlobalAveragePool", "gap", &["e"], &["g"], vec![]),
        node("Sub", "minus_mean", &["e", "g"], &["f"], vec![]),
        node("Add", "plus_two", &["f", "two"], &["h"], vec![]),
        node("Div", "ratio", &["two", "h"], &["i"], vec![]),
        node("Div", "quotient", &["f", "i"], &["y"], vec![]),
    ];
    let inits = vec![
        f32_tensor("half", &[], vec![0.5]),
        f32_tensor("one", &[1], vec![1.0]),
        f32_tensor("two", &[], vec![2.0]),
        f32_tensor("std", &[3, 1, 1], vec![0.25, 0.5, 2.0]),
        f32_tensor("mean", &[1, 3, 1, 1], vec![0.1, -0.2, 0.3]),
        f32_tensor("mean4", &[3, 1, 1], vec![1.0, 2.0, 3.0]),
    ];
    let m = model(17, nodes, inits, value("x", &[2, 3, 4, 4]), "y");
    let path = save(dir.path(), "arith.onnx", &m);
    // (1 − 0.5x) / std + mean − mean4: one affine with weight 1/std and bias mean − mean4.
    let sc = "model r(x: [2, 3, 4, 4]) {
        let b = 1.0 - x * 0.5;
        let c = affine(b);
        let f = c - global_avgpool(c);
        let i = 2.0 / (f + 2.0);
        return f / i;
    }";
    let weights = vec![
        ("c.weight", Tensor::from_vec([3], vec![4.0, 2.0, 0.5])),
        ("c.bias", Tensor::from_vec([3], vec![-0.9, -2.2, -2.7])),
    ];
    same_as_sc(&path, sc, weights, &[2, 3, 4, 4]);
    let imported = Model::from_onnx(&path, &OnnxOptions::default()).unwrap();
    let text = &imported.source().text;
    assert!(
        text.contains("let c = affine(b); // Div normalise, Add shift, Sub centre"),
        "{text}"
    );
    assert!(text.contains("let b = 1.0 - a; // Sub flip"), "{text}");
    assert!(text.contains("let i = 2.0 / h; // Div ratio"), "{text}");
}

/// Resize by a fractional factor that gives the size exactly, to sizes with align_corners,
/// nearest with half_pixel and round_prefer_ceil (PyTorch's nearest-exact), and with `axes`
/// (opset 18).
#[test]
fn resize_forms() {
    let dir = tempfile::tempdir().unwrap();
    let resize = |name: &str, input: &str, output: &str, scales: &str, sizes: &str, attrs| {
        node(
            "Resize",
            name,
            &[input, "", scales, sizes],
            &[output],
            attrs,
        )
    };
    let nodes = vec![
        resize(
            "frac",
            "x",
            "a",
            "scales",
            "",
            vec![
                attr_str("mode", "linear"),
                attr_str("coordinate_transformation_mode", "half_pixel"),
            ],
        ),
        resize(
            "corners",
            "a",
            "b",
            "",
            "sizes",
            vec![
                attr_str("mode", "linear"),
                attr_str("coordinate_transformation_mode", "align_corners"),
            ],
        ),
        resize(
            "exact",
            "b",
            "y",
            "",
            "sizes2",
            vec![
                attr_str("mode", "nearest"),
                attr_str("coordinate_transformation_mode", "half_pixel"),
                attr_str("nearest_mode", "round_prefer_ceil"),
            ],
        ),
    ];
    let inits = vec![
        f32_tensor("scales", &[4], vec![1.0, 1.0, 1.5, 1.5]),
        i64_tensor("sizes", vec![1, 2, 5, 7]),
        i64_tensor("sizes2", vec![1, 2, 8, 3]),
    ];
    let m = model(13, nodes, inits, value("x", &[1, 2, 4, 6]), "y");
    let path = save(dir.path(), "resize.onnx", &m);
    let sc = "model r(x: [1, 2, 4, 6]) {
        let a = upsample(x, scale=1.5, mode=\"bilinear\");
        let b = upsample(a, size=(5, 7), mode=\"bilinear\", align_corners=true);
        return upsample(b, size=(8, 3), mode=\"nearest-exact\");
    }";
    same_as_sc(&path, sc, vec![], &[1, 2, 4, 6]);

    let m = model(
        18,
        vec![node(
            "Resize",
            "axes",
            &["x", "", "", "hw"],
            &["y"],
            vec![
                attr_ints("axes", &[2, 3]),
                attr_str("mode", "nearest"),
                attr_str("nearest_mode", "floor"),
                attr_str("coordinate_transformation_mode", "asymmetric"),
            ],
        )],
        vec![i64_tensor("hw", vec![7, 9])],
        value("x", &[1, 2, 4, 6]),
        "y",
    );
    let path = save(dir.path(), "resize18.onnx", &m);
    same_as_sc(
        &path,
        "model r(x: [1, 2, 4, 6]) { return upsample(x, size=(7, 9)); }",
        vec![],
        &[1, 2, 4, 6],
    );
}

/// Asymmetric convolution padding (`SAME_UPPER` at stride 2 and explicit pads) is an explicit
/// `pad` before a conv without padding; the legacy exporter's pads computation
/// (`ConstantOfShape`, `Concat`, `Reshape`, `Slice` with step −1, `Transpose`, `Cast`) folds
/// into a `Pad`.
#[test]
fn asymmetric_padding_and_folded_pad_computations() {
    let dir = tempfile::tempdir().unwrap();
    let w = ramp(4 * 3 * 3 * 3, 0.05);
    let nodes = vec![
        node(
            "Conv",
            "/stem/Conv",
            &["x", "stem.weight"],
            &["c"],
            vec![
                attr_str("auto_pad", "SAME_UPPER"),
                attr_ints("strides", &[2, 2]),
                attr_ints("kernel_shape", &[3, 3]),
            ],
        ),
        node(
            "Conv",
            "/next/Conv",
            &["c", "next.weight"],
            &["y"],
            vec![attr_ints("pads", &[1, 0, 2, 1])],
        ),
    ];
    let w2 = ramp(2 * 4 * 2 * 2, 0.1);
    let inits = vec![
        f32_tensor("stem.weight", &[4, 3, 3, 3], w.clone()),
        f32_tensor("next.weight", &[2, 4, 2, 2], w2.clone()),
    ];
    let m = model(17, nodes, inits, value("x", &[1, 3, 8, 8]), "y");
    let path = save(dir.path(), "same.onnx", &m);
    let sc = "model r(x: [1, 3, 8, 8]) {
        let stem = conv2d(pad(x, bottom=1, right=1), 4, kernel=3, stride=2);
        let next = conv2d(pad(stem, top=1, bottom=2, right=1), 2, kernel=2);
        return next;
    }";
    same_as_sc(
        &path,
        sc,
        vec![
            ("stem.weight", Tensor::from_vec([4, 3, 3, 3], w)),
            ("next.weight", Tensor::from_vec([2, 4, 2, 2], w2)),
        ],
        &[1, 3, 8, 8],
    );
    let text = Model::from_onnx(&path, &OnnxOptions::default())
        .unwrap()
        .source()
        .text
        .clone();
    assert!(
        text.contains(
            "let stem_pad = pad(x, bottom=1, right=1); // Conv /stem/Conv (its asymmetric padding)"
        ),
        "{text}"
    );

    // F.pad(x, (0, 1, 0, 1)) as the legacy exporter writes it.
    let constant = |name: &str, t: TensorProto| {
        node(
            "Constant",
            name,
            &[],
            &[name],
            vec![attr_tensor("value", t)],
        )
    };
    let nodes = vec![
        constant("n", i64_tensor("", vec![4])),
        constant("given", i64_tensor("", vec![0, 1, 0, 1])),
        node(
            "ConstantOfShape",
            "zeros",
            &["n"],
            &["z"],
            vec![attr_tensor("value", i64_tensor("", vec![0]))],
        ),
        node(
            "Concat",
            "all",
            &["given", "z"],
            &["cat"],
            vec![attr_int("axis", 0)],
        ),
        constant("pairs_shape", i64_tensor("", vec![-1, 2])),
        node(
            "Reshape",
            "pairs",
            &["cat", "pairs_shape"],
            &["pairs"],
            vec![],
        ),
        constant("starts", i64_tensor("", vec![-1])),
        constant("ends", i64_tensor("", vec![i64::MIN + 1])),
        constant("axes", i64_tensor("", vec![0])),
        constant("steps", i64_tensor("", vec![-1])),
        node(
            "Slice",
            "reverse",
            &["pairs", "starts", "ends", "axes", "steps"],
            &["rev"],
            vec![],
        ),
        node(
            "Transpose",
            "swap",
            &["rev"],
            &["t"],
            vec![attr_ints("perm", &[1, 0])],
        ),
        constant("flat_shape", i64_tensor("", vec![-1])),
        node("Reshape", "flat", &["t", "flat_shape"], &["flat"], vec![]),
        node(
            "Cast",
            "cast",
            &["flat"],
            &["pads"],
            vec![attr_int("to", 7)],
        ),
        node("Pad", "/pad/Pad", &["x", "pads"], &["y"], vec![]),
    ];
    let m = model(17, nodes, vec![], value("x", &[1, 2, 3, 3]), "y");
    let path = save(dir.path(), "legacy_pad.onnx", &m);
    same_as_sc(
        &path,
        "model r(x: [1, 2, 3, 3]) { return pad(x, bottom=1, right=1); }",
        vec![],
        &[1, 2, 3, 3],
    );
}

/// A training-mode export's batchnorm normalises with the batch's statistics: `training_mode=1`
/// (opset 14+), or running-statistics outputs (opsets 9–13).
#[test]
fn training_mode_batchnorm() {
    let dir = tempfile::tempdir().unwrap();
    let params = |p: &str| {
        vec![
            f32_tensor(&format!("{p}.weight"), &[3], vec![1.0, 0.5, 2.0]),
            f32_tensor(&format!("{p}.bias"), &[3], vec![0.0, 0.1, -0.2]),
            f32_tensor(&format!("{p}.running_mean"), &[3], vec![5.0, 5.0, 5.0]),
            f32_tensor(&format!("{p}.running_var"), &[3], vec![9.0, 9.0, 9.0]),
        ]
    };
    let bn_inputs = [
        "x",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
    ];
    let weights = || {
        vec![
            ("bn.weight", Tensor::from_vec([3], vec![1.0, 0.5, 2.0])),
            ("bn.bias", Tensor::from_vec([3], vec![0.0, 0.1, -0.2])),
            ("bn.running_mean", Tensor::from_vec([3], vec![5.0; 3])),
            ("bn.running_var", Tensor::from_vec([3], vec![9.0; 3])),
        ]
    };
    let sc = "model r(x: [2, 3, 4, 4]) { let bn = batchnorm(x, training=true); return bn; }";
    let m = model(
        15,
        vec![node(
            "BatchNormalization",
            "bn",
            &bn_inputs,
            &["y", "mean_out", "var_out"],
            vec![attr_int("training_mode", 1)],
        )],
        params("bn"),
        value("x", &[2, 3, 4, 4]),
        "y",
    );
    let path = save(dir.path(), "train15.onnx", &m);
    same_as_sc(&path, sc, weights(), &[2, 3, 4, 4]);
    let m = model(
        9,
        vec![node(
            "BatchNormalization",
            "bn",
            &bn_inputs,
            &["y", "mean_out", "var_out", "saved_mean", "saved_var"],
            vec![],
        )],
        params("bn"),
        value("x", &[2, 3, 4, 4]),
        "y",
    );
    let path = save(dir.path(), "train9.onnx", &m);
    same_as_sc(&path, sc, weights(), &[2, 3, 4, 4]);
}

/// One test per new error: each names its node and says what scc does instead.
#[test]
fn unsupported_forms_of_the_new_operators_name_their_node() {
    let dir = tempfile::tempdir().unwrap();
    let single = |file: &str, n: NodeProto, inits: Vec<TensorProto>, shape: &[i64]| {
        save(
            dir.path(),
            file,
            &model(17, vec![n], inits, value("x", shape), "y"),
        );
        check_error(dir.path(), file)
    };
    assert_eq!(
        single(
            "reflect.onnx",
            node(
                "Pad",
                "/p",
                &["x", "pads"],
                &["y"],
                vec![attr_str("mode", "reflect")]
            ),
            vec![i64_tensor("pads", vec![0, 0, 1, 1, 0, 0, 1, 1])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/reflect.onnx`: node `/p` (Pad): mode \"reflect\": scc pads with a constant\n"
    );
    assert_eq!(
        single(
            "crop.onnx",
            node("Pad", "/p", &["x", "pads"], &["y"], vec![]),
            vec![i64_tensor("pads", vec![0, 0, -1, 0, 0, 0, 0, 0])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/crop.onnx`: node `/p` (Pad): pads [0, 0, -1, 0, 0, 0, 0, 0]: scc pads by non-negative amounts (no cropping)\n"
    );
    assert_eq!(
        single(
            "channels.onnx",
            node("Pad", "/p", &["x", "pads"], &["y"], vec![]),
            vec![i64_tensor("pads", vec![0, 1, 0, 0, 0, 0, 0, 0])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/channels.onnx`: node `/p` (Pad): pads [0, 1, 0, 0, 0, 0, 0, 0] pad the batch or the channels; scc pads height and width\n"
    );
    assert_eq!(
        single(
            "plane.onnx",
            node("Mul", "/m", &["x", "c"], &["y"], vec![]),
            vec![f32_tensor("c", &[1, 1, 3, 3], vec![1.0; 9])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/plane.onnx`: node `/m` (Mul): a constant of shape [1, 1, 3, 3] against a tensor of shape [1, 2, 3, 3]: scc applies constants that are scalars or one value per channel ([1, C, 1, 1])\n"
    );
    assert_eq!(
        single(
            "over.onnx",
            node("Div", "/d", &["c", "x"], &["y"], vec![]),
            vec![f32_tensor("c", &[2, 1, 1], vec![1.0, 2.0])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/over.onnx`: node `/d` (Div): dividing a per-channel constant by a tensor is not supported\n"
    );
    assert_eq!(
        single(
            "cubic.onnx",
            node(
                "Resize",
                "/r",
                &["x", "", "s"],
                &["y"],
                vec![attr_str("mode", "cubic")]
            ),
            vec![f32_tensor("s", &[4], vec![1.0, 1.0, 2.0, 2.0])],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/cubic.onnx`: node `/r` (Resize): mode \"cubic\" with coordinate_transformation_mode \"half_pixel\" (nearest_mode \"round_prefer_floor\") is not supported: scc resamples as PyTorch's F.interpolate, nearest (asymmetric, floor), nearest-exact (half_pixel, round_prefer_ceil) and bilinear (half_pixel, pytorch_half_pixel, align_corners)\n"
    );
    let two_inputs = |file: &str, n: NodeProto| {
        let mut m = model(17, vec![n], vec![], value("x", &[1, 2, 3, 3]), "y");
        m.graph
            .as_mut()
            .unwrap()
            .input
            .push(value("g", &[1, 2, 1, 1]));
        save(dir.path(), file, &m);
        check_error(dir.path(), file)
    };
    assert_eq!(
        two_inputs("left.onnx", node("Sub", "/s", &["g", "x"], &["y"], vec![])),
        "error: `<dir>/left.onnx`: node `/s` (Sub): operands of shapes [1, 2, 1, 1] and [1, 2, 3, 3]: scc broadcasts only equal shapes or an [N, C, 1, 1] right operand\n"
    );
    assert_eq!(
        single(
            "avg.onnx",
            node(
                "AveragePool",
                "/a",
                &["x"],
                &["y"],
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("pads", &[1, 1, 0, 0])
                ],
            ),
            vec![],
            &[1, 2, 3, 3],
        ),
        "error: `<dir>/avg.onnx`: node `/a` (AveragePool): asymmetric padding (top, left) = (1, 1), (bottom, right) = (0, 0): scc pads asymmetrically with zeros, which only an average pool counting its padding reads the same\n"
    );
}

/// `Transpose` of run-time tensors: an identity `perm` is the input itself, the default
/// reverses the axes, a rank-4 permutation and a `Gemm` with `transA=1` after a transpose
/// give what the `.sc` they stand for gives; a `perm` that is not a permutation of the
/// input's axes names the node.
#[test]
fn transpose_of_tensors_and_gemm_with_trans_a() {
    let dir = tempfile::tempdir().unwrap();
    let w = ramp(3 * 5, 0.1); // B [out=3, F=5] (transB=1)
    let nodes = vec![
        node(
            "Transpose",
            "same",
            &["x"],
            &["s"],
            vec![attr_ints("perm", &[0, 1, 2, 3])],
        ),
        node(
            "Transpose",
            "nhwc",
            &["s"],
            &["t"],
            vec![attr_ints("perm", &[0, 2, 3, 1])],
        ),
        node("Relu", "act", &["t"], &["r"], vec![]),
        node("Transpose", "reversed", &["r"], &["v"], vec![]),
        node("GlobalAveragePool", "pool", &["v"], &["p"], vec![]),
        node("Flatten", "flat", &["p"], &["f"], vec![]),
        node("Transpose", "columns", &["f"], &["c"], vec![]),
        node(
            "Gemm",
            "fc",
            &["c", "fc.weight"],
            &["y"],
            vec![
                attr_int("transA", 1),
                attr_int("transB", 1),
                attr_float("alpha", 0.5),
            ],
        ),
    ];
    let inits = vec![f32_tensor("fc.weight", &[3, 5], w.clone())];
    // x [2, 3, 4, 5] -> t [2, 4, 5, 3] -> v [3, 5, 4, 2] -> f [3, 5] -> c [5, 3] -> y [3, 3].
    let m = model(17, nodes, inits, value("x", &[2, 3, 4, 5]), "y");
    let path = save(dir.path(), "transposes.onnx", &m);
    same_as_sc(
        &path,
        "model r(x: [2, 3, 4, 5]) {
            let v = transpose(relu(transpose(x, perm=[0, 2, 3, 1])), perm=[3, 2, 1, 0]);
            let f = flatten(global_avgpool(v));
            let fc = linear(transpose(transpose(f)), 3, bias=false);
            return fc;
        }",
        vec![(
            "fc.weight",
            Tensor::from_vec([3, 5], w.iter().map(|v| v * 0.5).collect()),
        )],
        &[2, 3, 4, 5],
    );
    // The import keeps the identity out and writes every other permutation.
    let out = dir.path().join("transposes.sc");
    scc_ok(&["import", &path, "-o", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("transpose(x, perm=[0, 2, 3, 1]); // Transpose nhwc"),
        "{text}"
    );
    assert!(
        text.contains("perm=[3, 2, 1, 0]); // Transpose reversed"),
        "{text}"
    );
    assert!(text.contains("// Gemm fc (transA=1)"), "{text}");
    assert!(!text.contains("// Transpose same"), "{text}");

    let single = |file: &str, perm: &[i64]| {
        let n = node(
            "Transpose",
            "/t",
            &["x"],
            &["y"],
            vec![attr_ints("perm", perm)],
        );
        save(
            dir.path(),
            file,
            &model(17, vec![n], vec![], value("x", &[1, 2, 3, 4]), "y"),
        );
        check_error(dir.path(), file)
    };
    assert_eq!(
        single("repeated.onnx", &[0, 1, 1, 3]),
        "error: `<dir>/repeated.onnx`: node `/t` (Transpose): perm=[0, 1, 1, 3] is not a permutation of the 4 axes of its input (shape [1, 2, 3, 4])\n"
    );
    assert_eq!(
        single("short.onnx", &[1, 0]),
        "error: `<dir>/short.onnx`: node `/t` (Transpose): perm=[1, 0] is not a permutation of the 4 axes of its input (shape [1, 2, 3, 4])\n"
    );
    assert_eq!(
        single("negative.onnx", &[0, 1, 2, -1]),
        "error: `<dir>/negative.onnx`: node `/t` (Transpose): perm=[0, 1, 2, -1] is not a permutation of the 4 axes of its input (shape [1, 2, 3, 4])\n"
    );
}
