//! Every class of user error gives a located diagnostic and a non-zero exit, never a panic.
//!
//! A case is `tests/errors/<case>.sc` (run as `scc check <case>.sc`) or
//! `tests/errors/<case>.cmd` (one line of `scc` arguments). The full standard error is
//! compared with `tests/errors/<case>.stderr`; run with `BLESS=1` to rewrite those files.

mod common;

use common::{repo_path, scc};

fn check_case(case: &str) {
    let dir = repo_path("tests/errors");
    let sc = dir.join(format!("{case}.sc"));
    let cmd = dir.join(format!("{case}.cmd"));
    let args: Vec<String> = if sc.is_file() {
        vec!["check".to_string(), format!("tests/errors/{case}.sc")]
    } else {
        let line =
            std::fs::read_to_string(&cmd).unwrap_or_else(|_| panic!("no {case}.sc or {case}.cmd"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = scc(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{case}: expected exit code 1\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{case}: panicked\n{stderr}");
    let expected_path = dir.join(format!("{case}.stderr"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&expected_path, &stderr).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with BLESS=1 to create it",
            expected_path.display()
        )
    });
    assert_eq!(
        stderr, expected,
        "{case}: diagnostic differs (BLESS=1 to update)"
    );
}

macro_rules! error_cases {
    ($($case:ident),* $(,)?) => {
        $(#[test] fn $case() { check_case(stringify!($case)); })*

        /// Every case file in tests/errors has a test above.
        #[test]
        fn every_case_file_is_tested() {
            let listed = [$(stringify!($case)),*];
            for entry in std::fs::read_dir(repo_path("tests/errors")).unwrap() {
                let path = entry.unwrap().path();
                let is_case = matches!(path.extension().and_then(|e| e.to_str()), Some("sc" | "cmd"));
                if is_case {
                    let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                    assert!(listed.contains(&stem.as_str()), "tests/errors/{stem} has no test");
                }
            }
        }
    };
}

error_cases!(
    syntax_missing_semicolon,
    unknown_op,
    unknown_argument,
    argument_type,
    argument_range,
    missing_argument,
    shape_mismatch,
    shape_mismatch_in_block,
    structure_c_too_large,
    weights_in_expression,
    unknown_name,
    duplicate_let,
    several_models,
    recursive_block,
    block_argument_kind,
    weights_mismatch,
    weights_corrupt,
    weights_missing_file,
    input_shape,
    input_shape_override_unknown,
    input_shape_override_rank,
    input_name,
    not_structured,
    alpha_and_weight,
    model_file_missing,
    index_out_of_range,
    tuple_as_tensor,
    index_a_tensor,
    upsample_scale_and_size,
    upsample_align_corners_nearest,
    clamp_without_bounds,
    pad_negative,
    scalar_out_of_range,
    affine_in_expression,
    block_expansion_limit,
    output_name_collision,
    transpose_perm_length,
    transpose_not_a_permutation,
    transpose_axis_out_of_range,
    transpose_perm_type,
);
