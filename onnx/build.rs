//! Generates the Rust types of ONNX's protobuf messages from the committed `proto/onnx.proto`
//! (ONNX 1.23's, unchanged) with `protox` and `prost-build`: no `protoc` is needed.

fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = match protox::compile(["proto/onnx.proto"], ["proto"]) {
        Ok(descriptors) => descriptors,
        Err(err) => panic!("proto/onnx.proto does not compile: {err}"),
    };
    if let Err(err) = prost_build::Config::new().compile_fds(descriptors) {
        panic!("cannot generate the ONNX message types: {err}");
    }
}
