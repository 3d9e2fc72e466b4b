//! Resource limits of the front end: block expansion is bounded by a node limit, reported at
//! the op that exceeds it; large flat graphs are checked in about linear time (no timing is
//! asserted here: these tests show the sizes work and the limit holds; the README quotes the
//! measured times).

use scc::{DEFAULT_MAX_NODES, LowerOptions, Model, PassOptions};

/// Blocks `b0` … `b{levels}`, each calling the previous one twice, and a model calling the
/// last: `2^levels` relu nodes.
fn doubling_blocks(levels: usize) -> String {
    let mut text = String::from("block b0(x) { let y = relu(x); return y; }\n");
    for i in 1..=levels {
        text += &format!(
            "block b{i}(x) {{ let a = b{p}(x); let b = b{p}(a); return b; }}\n",
            p = i - 1
        );
    }
    text + &format!("model doubling(x: [1, 4]) {{ let y = b{levels}(x); return y; }}\n")
}

/// A model of `count` chained `relu` lets.
fn relu_chain(count: usize) -> String {
    let mut text = String::from("model chain(x: [1, 4]) {\n    let r0 = relu(x);\n");
    for i in 1..count {
        text += &format!("    let r{i} = relu(r{});\n", i - 1);
    }
    text + &format!("    return r{};\n}}\n", count - 1)
}

#[test]
fn exponential_block_expansion_stops_at_the_default_node_limit() {
    // 2^30 nodes described in 32 lines: lowering stops after creating DEFAULT_MAX_NODES.
    let err = Model::from_source("doubling.sc", &doubling_blocks(30), None).unwrap_err();
    let text = err.render();
    assert!(
        text.starts_with(&format!(
            "error: the model has more than {DEFAULT_MAX_NODES} nodes\n"
        )),
        "{text}"
    );
    // The chain of block calls that led there, innermost first, ends at the model's call.
    for level in 0..=30 {
        assert!(
            text.contains(&format!("in this instance of block `b{level}`\n")),
            "b{level} missing from the chain:\n{text}"
        );
    }
    assert!(
        text.contains("raise the limit with --max-nodes N"),
        "{text}"
    );
}

#[test]
fn the_node_limit_is_an_option() {
    let text = doubling_blocks(10);
    let limited = LowerOptions {
        max_nodes: 1024,
        ..LowerOptions::default()
    };
    // 1,024 relus and the input: one over.
    let err = Model::from_source_with("doubling.sc", &text, None, &limited).unwrap_err();
    assert!(
        err.render()
            .starts_with("error: the model has more than 1024 nodes\n"),
        "{}",
        err.render()
    );
    let enough = LowerOptions {
        max_nodes: 1025,
        ..LowerOptions::default()
    };
    let model = Model::from_source_with("doubling.sc", &text, None, &enough).unwrap();
    assert_eq!(model.graph().node_count(), 1025);
}

#[test]
fn a_flat_chain_of_100000_lets_is_lowered_optimised_and_planned() {
    let model = Model::from_source("chain.sc", &relu_chain(100_000), None).unwrap();
    assert_eq!(model.graph().node_count(), 100_001);
    let optimized = model.optimize(None, &PassOptions::default()).unwrap();
    let memory = scc::compiler::memory::plan_graph(&optimized.graph);
    // A few aligned [1, 4] buffers reused along the chain, not one per let.
    assert!(memory.arena_bytes <= 256, "{memory:?}");
    assert!(memory.naive_bytes >= 100_000 * 16, "{memory:?}");
}
