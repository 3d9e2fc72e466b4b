//! The printer: `parse(print(ast))` equals `ast` (spans aside) for every `.sc` file of the
//! repository and for generated expressions; the printed text of `tests/in/<name>.sc` is
//! snapshotted in `tests/printed/<name>.sc` (`BLESS=1` rewrites them).

use proptest::prelude::*;
use scc_lang::ast::{Arg, BlockParam, Call, Expr, ExprKind, File, Ident, Item, Stmt};
use scc_lang::{SourceFile, Span, parse, print};
use std::path::{Path, PathBuf};

/// The AST with every span zeroed, for comparison.
fn unspanned(file: &File) -> File {
    fn ident(i: &Ident) -> Ident {
        Ident {
            name: i.name.clone(),
            span: Span::default(),
        }
    }
    fn expr(e: &Expr) -> Expr {
        let kind = match &e.kind {
            ExprKind::Neg(inner) => ExprKind::Neg(Box::new(expr(inner))),
            ExprKind::Binary { op, lhs, rhs } => ExprKind::Binary {
                op: *op,
                lhs: Box::new(expr(lhs)),
                rhs: Box::new(expr(rhs)),
            },
            ExprKind::Pair(a, b) => ExprKind::Pair(Box::new(expr(a)), Box::new(expr(b))),
            ExprKind::List(items) => ExprKind::List(items.iter().map(expr).collect()),
            ExprKind::Index { base, position } => ExprKind::Index {
                base: Box::new(expr(base)),
                position: Box::new(expr(position)),
            },
            ExprKind::Call(call) => ExprKind::Call(Call {
                callee: ident(&call.callee),
                args: call
                    .args
                    .iter()
                    .map(|a| Arg {
                        keyword: a.keyword.as_ref().map(ident),
                        value: expr(&a.value),
                        span: Span::default(),
                    })
                    .collect(),
            }),
            other => other.clone(),
        };
        Expr {
            kind,
            span: Span::default(),
        }
    }
    fn stmts(body: &[Stmt]) -> Vec<Stmt> {
        body.iter()
            .map(|s| match s {
                Stmt::Let { name, value, .. } => Stmt::Let {
                    name: ident(name),
                    value: expr(value),
                    span: Span::default(),
                },
                Stmt::Return { values, .. } => Stmt::Return {
                    values: values.iter().map(expr).collect(),
                    span: Span::default(),
                },
            })
            .collect()
    }
    let items = file
        .items
        .iter()
        .map(|item| match item {
            Item::Block(b) => {
                let mut b = b.clone();
                b.name = ident(&b.name);
                b.span = Span::default();
                b.params = b
                    .params
                    .iter()
                    .map(|p| match p {
                        BlockParam::Tensor(n) => BlockParam::Tensor(ident(n)),
                        BlockParam::Int { name, default } => BlockParam::Int {
                            name: ident(name),
                            default: default.as_ref().map(expr),
                        },
                    })
                    .collect();
                b.body = stmts(&b.body);
                Item::Block(b)
            }
            Item::Model(m) => {
                let mut m = m.clone();
                m.name = ident(&m.name);
                m.span = Span::default();
                for input in &mut m.inputs {
                    input.name = ident(&input.name);
                    input.span = Span::default();
                    for dim in &mut input.dims {
                        dim.1 = Span::default();
                    }
                }
                m.body = stmts(&m.body);
                Item::Model(m)
            }
        })
        .collect();
    File { items }
}

fn round_trip(name: &str, text: &str) -> String {
    let first =
        parse(&SourceFile::new(name, text)).unwrap_or_else(|d| panic!("{name}: {}", d.message));
    let printed = print(&first);
    let second = parse(&SourceFile::new(name, printed.as_str())).unwrap_or_else(|d| {
        panic!(
            "{name}: the printed text does not parse: {}\n{printed}",
            d.message
        )
    });
    assert_eq!(
        unspanned(&second),
        unspanned(&first),
        "{name}: print then parse changed the AST:\n{printed}"
    );
    assert_eq!(print(&second), printed, "{name}: printing is not stable");
    printed
}

fn sc_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "sc"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_sc_file_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut count = 0;
    for dir in [
        "lang/tests/in",
        "examples",
        "examples/digits",
        "tests/data/checkpoint",
        "tests/data/onnx",
        "../shared/fixtures",
    ] {
        let dir = root.join(dir);
        let mut files = sc_files(&dir);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                files.extend(sc_files(&entry.path()));
            }
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            round_trip(&file.display().to_string(), &text);
            count += 1;
        }
    }
    assert!(count > 10, "only {count} files found");
}

#[test]
fn printed_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for file in sc_files(&dir.join("in")) {
        let printed = round_trip(
            &file.display().to_string(),
            &std::fs::read_to_string(&file).unwrap(),
        );
        let expected = dir.join("printed").join(file.file_name().unwrap());
        if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&expected, &printed).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&expected)
            .unwrap_or_else(|_| panic!("missing {}; BLESS=1 writes it", expected.display()));
        assert_eq!(
            printed,
            want,
            "{}: printed text differs (BLESS=1 to update)",
            file.display()
        );
    }
}

/// Parentheses where precedence needs them, negation, indexing, floats and escaped strings.
fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (0i64..1000).prop_map(|v| v.to_string()),
        (0.0f64..1e6).prop_map(|v| format!("{v:?}")),
        Just("x".to_string()),
        Just("\"a\\\"b\\\\c\\n\"".to_string()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")],
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("f({a}, k=({a}, {b}))")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a})[{b}]")),
        ]
    })
}

proptest! {
    #![proptest_config(scc_testkit::config(256))]

    #[test]
    fn generated_expressions_round_trip(e in arb_expr()) {
        let text = format!("model m(x: [1, 2]) {{ let y = {e}; return y; }}");
        round_trip("generated.sc", &text);
    }
}
