//! Unit tests of the parser: structure, precedence, spans, literals, comments, errors.

use scc_lang::ast::{BinOp, BlockParam, Expr, ExprKind, File, Item, Model, Stmt};
use scc_lang::parser::MAX_EXPR_DEPTH;
use scc_lang::{Diagnostic, SourceFile, Span, parse};

fn parse_ok(text: &str) -> File {
    let source = SourceFile::new("test.sc", text);
    parse(&source).unwrap_or_else(|d| panic!("parse failed:\n{}", d.render(Some(&source))))
}

fn parse_err(text: &str) -> Diagnostic {
    match parse(&SourceFile::new("test.sc", text)) {
        Ok(file) => panic!("expected an error, parsed {file:?}"),
        Err(diagnostic) => diagnostic,
    }
}

fn model(file: &File, index: usize) -> &Model {
    match &file.items[index] {
        Item::Model(model) => model,
        Item::Block(block) => panic!("item {index} is block {}", block.name.name),
    }
}

/// The source of a model whose only statement is `let v = <expr>;`.
fn wrap(expr: &str) -> String {
    format!("model m(x: [1, 2]) {{ let v = {expr}; }}")
}

/// Parses `expr` as the value of a `let`.
fn expr(text: &str) -> Expr {
    let file = parse_ok(&wrap(text));
    match &model(&file, 0).body[0] {
        Stmt::Let { value, .. } => value.clone(),
        other => panic!("not a let: {other:?}"),
    }
}

/// A fully parenthesised rendering of an expression, for precedence tests.
fn sexpr(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => format!("{v:?}"),
        ExprKind::Str(v) => format!("{v:?}"),
        ExprKind::Bool(v) => v.to_string(),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Neg(e) => format!("(- {})", sexpr(e)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), sexpr(lhs), sexpr(rhs))
        }
        ExprKind::Pair(a, b) => format!("({}, {})", sexpr(a), sexpr(b)),
        ExprKind::List(items) => {
            let items: Vec<String> = items.iter().map(sexpr).collect();
            format!("[{}]", items.join(", "))
        }
        ExprKind::Index { base, position } => {
            format!("(index {} {})", sexpr(base), sexpr(position))
        }
        ExprKind::Call(call) => {
            let mut out = format!("({}", call.callee.name);
            for arg in &call.args {
                out.push(' ');
                if let Some(k) = &arg.keyword {
                    out.push_str(&format!("{}=", k.name));
                }
                out.push_str(&sexpr(&arg.value));
            }
            out + ")"
        }
    }
}

fn text(source: &str, span: Span) -> &str {
    &source[span.start..span.end]
}

#[test]
fn precedence_and_associativity() {
    let cases = [
        ("a + b * c", "(+ a (* b c))"),
        ("a * b + c", "(+ (* a b) c)"),
        ("a - b - c", "(- (- a b) c)"),
        ("a / b / c", "(/ (/ a b) c)"),
        ("a - b + c", "(+ (- a b) c)"),
        ("a / b * c", "(* (/ a b) c)"),
        ("(a + b) * c", "(* (+ a b) c)"),
        ("a + b * c - d / e", "(- (+ a (* b c)) (/ d e))"),
        ("-a * b", "(* (- a) b)"),
        ("-a + b", "(+ (- a) b)"),
        ("a - -b", "(- a (- b))"),
        ("--a", "(- (- a))"),
        ("-(a + b)", "(- (+ a b))"),
        ("a * -b", "(* a (- b))"),
        ("((a))", "a"),
    ];
    for (source, expected) in cases {
        assert_eq!(sexpr(&expr(source)), expected, "{source}");
    }
}

#[test]
fn pairs() {
    assert_eq!(sexpr(&expr("(1, 2)")), "(1, 2)");
    assert_eq!(sexpr(&expr("(a + 1, b * 2)")), "((+ a 1), (* b 2))");
    assert_eq!(sexpr(&expr("((1, 2), (3))")), "((1, 2), 3)");
    assert_eq!(sexpr(&expr("f(x, kernel=(1, 3))")), "(f x kernel=(1, 3))");
    // A pair has exactly two elements.
    parse_err(&wrap("(1, 2, 3)"));
    parse_err(&wrap("(1,)"));
}

#[test]
fn indexing() {
    assert_eq!(sexpr(&expr("stage[1]")), "(index stage 1)");
    assert_eq!(sexpr(&expr("f(x)[n - 1]")), "(index (f x) (- n 1))");
    assert_eq!(
        sexpr(&expr("a[0] + b[1] * c")),
        "(+ (index a 0) (* (index b 1) c))"
    );
    assert_eq!(sexpr(&expr("-a[0]")), "(- (index a 0))");
    assert_eq!(sexpr(&expr("a[0][1]")), "(index (index a 0) 1)");
    assert_eq!(sexpr(&expr("relu(s[2])")), "(relu (index s 2))");
    parse_err(&wrap("a[]"));
    parse_err(&wrap("a[0, 1]"));
}

#[test]
fn calls_and_keyword_arguments() {
    let e = expr("conv2d(x, ch * 2, kernel=3, stride=(2, 1), bias=true)");
    let ExprKind::Call(call) = &e.kind else {
        panic!("not a call: {e:?}")
    };
    assert_eq!(call.callee.name, "conv2d");
    let keywords: Vec<_> = call
        .args
        .iter()
        .map(|a| a.keyword.as_ref().map(|k| k.name.as_str()))
        .collect();
    assert_eq!(
        keywords,
        [None, None, Some("kernel"), Some("stride"), Some("bias")]
    );
    assert_eq!(
        sexpr(&e),
        "(conv2d x (* ch 2) kernel=3 stride=(2, 1) bias=true)"
    );
    assert_eq!(sexpr(&expr("zeros()")), "(zeros)");
    assert_eq!(sexpr(&expr("f(g(h(x)), k=g(y))")), "(f (g (h x)) k=(g y))");
    // The parser does not order positional and keyword arguments; lowering does.
    assert_eq!(sexpr(&expr("f(k=1, x)")), "(f k=1 x)");
}

#[test]
fn literals() {
    assert_eq!(expr("42").kind, ExprKind::Int(42));
    assert_eq!(expr("007").kind, ExprKind::Int(7));
    assert_eq!(expr(&i64::MAX.to_string()).kind, ExprKind::Int(i64::MAX));
    assert_eq!(expr("1e-5").kind, ExprKind::Float(1e-5));
    assert_eq!(expr("0.001").kind, ExprKind::Float(0.001));
    assert_eq!(expr("1.5e3").kind, ExprKind::Float(1500.0));
    assert_eq!(expr("2E+2").kind, ExprKind::Float(200.0));
    assert_eq!(expr("true").kind, ExprKind::Bool(true));
    assert_eq!(expr("false").kind, ExprKind::Bool(false));
    assert_eq!(expr(r#""bilinear""#).kind, ExprKind::Str("bilinear".into()));
    assert_eq!(
        expr(r#""a\"b\\c\nd\te""#).kind,
        ExprKind::Str("a\"b\\c\nd\te".into())
    );
    assert_eq!(expr(r#""""#).kind, ExprKind::Str(String::new()));
    assert_eq!(expr(r#""é // /* ""#).kind, ExprKind::Str("é // /* ".into()));
}

#[test]
fn negative_numbers() {
    let e = expr("-5");
    assert_eq!(sexpr(&e), "(- 5)");
    assert_eq!(e.span, Span::new(29, 31));
    assert_eq!(sexpr(&expr("-1e-5")), "(- 1e-5)");
    assert_eq!(sexpr(&expr("f(x, pad=-1)")), "(f x pad=(- 1))");
    assert_eq!(sexpr(&expr("3 - -2")), "(- 3 (- 2))");
    // i64::MIN is not a literal: its magnitude does not fit.
    let error = parse_err(&wrap("-9223372036854775808"));
    assert_eq!(error.message, "integer literal too large");
}

#[test]
fn spans_are_exact() {
    let source = "block b(x, k: int = 2 * 3) {\n  let y = f(x, k=(1, -k)) + -3 * (x);\n  return y, g(y);\n}\n\
                  model m(image: [1, 3, 8, 8]) { return b(image); }";
    let file = parse_ok(source);
    let Item::Block(block) = &file.items[0] else {
        panic!()
    };
    assert_eq!(
        text(source, block.span),
        "block b(x, k: int = 2 * 3) {\n  let y = f(x, k=(1, -k)) + -3 * (x);\n  return y, g(y);\n}"
    );
    assert_eq!(text(source, block.name.span), "b");
    let BlockParam::Int {
        name,
        default: Some(default),
    } = &block.params[1]
    else {
        panic!()
    };
    assert_eq!(text(source, name.span), "k");
    assert_eq!(text(source, default.span), "2 * 3");

    let Stmt::Let { name, value, span } = &block.body[0] else {
        panic!()
    };
    assert_eq!(text(source, *span), "let y = f(x, k=(1, -k)) + -3 * (x);");
    assert_eq!(text(source, name.span), "y");
    assert_eq!(text(source, value.span), "f(x, k=(1, -k)) + -3 * (x)");
    let ExprKind::Binary {
        op: BinOp::Add,
        lhs,
        rhs,
    } = &value.kind
    else {
        panic!()
    };
    assert_eq!(text(source, lhs.span), "f(x, k=(1, -k))");
    assert_eq!(text(source, rhs.span), "-3 * (x)");
    let ExprKind::Call(call) = &lhs.kind else {
        panic!()
    };
    assert_eq!(text(source, call.callee.span), "f");
    assert_eq!(text(source, call.args[0].span), "x");
    assert_eq!(text(source, call.args[0].value.span), "x");
    assert_eq!(text(source, call.args[1].span), "k=(1, -k)");
    assert_eq!(
        text(source, call.args[1].keyword.as_ref().unwrap().span),
        "k"
    );
    let pair = &call.args[1].value;
    assert_eq!(text(source, pair.span), "(1, -k)");
    let ExprKind::Pair(first, second) = &pair.kind else {
        panic!()
    };
    assert_eq!(text(source, first.span), "1");
    assert_eq!(text(source, second.span), "-k");
    let ExprKind::Binary {
        op: BinOp::Mul,
        lhs: neg,
        rhs: paren,
    } = &rhs.kind
    else {
        panic!()
    };
    assert_eq!(text(source, neg.span), "-3");
    // A parenthesised expression spans its parentheses.
    assert_eq!(text(source, paren.span), "(x)");

    let Stmt::Return { values, span } = &block.body[1] else {
        panic!()
    };
    assert_eq!(text(source, *span), "return y, g(y);");
    assert_eq!(text(source, values[1].span), "g(y)");
    assert_eq!(block.body[1].span(), *span);

    let m = model(&file, 1);
    assert_eq!(
        text(source, m.span),
        "model m(image: [1, 3, 8, 8]) { return b(image); }"
    );
    assert_eq!(text(source, m.inputs[0].span), "image: [1, 3, 8, 8]");
    assert_eq!(text(source, m.inputs[0].name.span), "image");
    let dims: Vec<_> = m.inputs[0]
        .dims
        .iter()
        .map(|&(d, s)| (d, text(source, s)))
        .collect();
    assert_eq!(dims, [(1, "1"), (3, "3"), (8, "8"), (8, "8")]);
}

#[test]
fn block_parameters() {
    let file = parse_ok("block b(x, y, n: int, m: int = -1) { return x; }");
    let Item::Block(block) = &file.items[0] else {
        panic!()
    };
    let names: Vec<_> = block
        .params
        .iter()
        .map(|p| p.name().name.as_str())
        .collect();
    assert_eq!(names, ["x", "y", "n", "m"]);
    assert!(matches!(block.params[0], BlockParam::Tensor(_)));
    assert!(matches!(
        block.params[2],
        BlockParam::Int { default: None, .. }
    ));
    let BlockParam::Int {
        default: Some(default),
        ..
    } = &block.params[3]
    else {
        panic!()
    };
    assert_eq!(sexpr(default), "(- 1)");
    // Parameter and input lists are not empty.
    parse_err("block b() { return x; }");
    parse_err("model m() { return x; }");
    parse_err("model m(x: []) { return x; }");
}

#[test]
fn trailing_commas() {
    let file = parse_ok(
        "block b(x, n: int = 1,) { return f(x, n,); }\nmodel m(x: [1, 2,], y: [3],) { return x; }",
    );
    let Item::Block(block) = &file.items[0] else {
        panic!()
    };
    assert_eq!(block.params.len(), 2);
    let m = model(&file, 1);
    assert_eq!(m.inputs.len(), 2);
    assert_eq!(m.inputs[0].dims.len(), 2);
    parse_err("model m(x: [1]) { return f(x,,); }");
    parse_err("model m(x: [1]) { return f(,); }");
    parse_err("model m(x: [1]) { return x,; }");
}

#[test]
fn comments_and_whitespace() {
    let file = parse_ok(
        "// line\n/* block\n * comment */model/**/m(x//c\n:[1 /*,*/, 2]){\r\n\tlet a=x;// end\nreturn a;}//",
    );
    let m = model(&file, 0);
    assert_eq!(m.name.name, "m");
    assert_eq!(
        m.inputs[0].dims.iter().map(|d| d.0).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(m.body.len(), 2);
    // A byte-order mark is whitespace.
    parse_ok("\u{feff}model m(x: [1]) { return x; }");
    // Keywords are whole words.
    let file = parse_ok("model m(x: [1]) { let model_x = x; let letx = model_x; return letx; }");
    assert_eq!(model(&file, 0).body.len(), 3);
}

#[test]
fn several_models_per_file() {
    let file = parse_ok(
        "model a(x: [1, 2]) { return x; }\nblock b(x) { return x; }\nmodel c(x: [3, 4]) { let y = b(x); return y, x; }",
    );
    assert_eq!(file.items.len(), 3);
    assert_eq!(model(&file, 0).name.name, "a");
    assert!(matches!(&file.items[1], Item::Block(b) if b.name.name == "b"));
    let c = model(&file, 2);
    assert_eq!(c.name.name, "c");
    let Stmt::Return { values, .. } = &c.body[1] else {
        panic!()
    };
    assert_eq!(values.len(), 2);
    // An empty body is syntactically fine; lowering requires a `return`.
    assert!(model(&parse_ok("model e(x: [1]) {}"), 0).body.is_empty());
}

/// Parses every `.sc` file found by `paths`, returning how many there were.
fn parse_all(paths: impl IntoIterator<Item = std::path::PathBuf>) -> usize {
    let mut count = 0;
    for path in paths {
        let Ok(source) = SourceFile::read(&path) else {
            continue;
        };
        if let Err(d) = parse(&source) {
            panic!("{}", d.render(Some(&source)));
        }
        count += 1;
    }
    count
}

fn dir_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

#[test]
fn every_fixture_parses() {
    let fixtures = std::path::Path::new("/work/shared/fixtures");
    if fixtures.exists() {
        let models = dir_entries(fixtures)
            .into_iter()
            .map(|dir| dir.join("model.sc"));
        assert!(
            parse_all(models) > 0,
            "no fixture in {}",
            fixtures.display()
        );
    }
}

#[test]
fn every_workspace_example_parses() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let sources = dir_entries(&examples)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sc"));
    parse_all(sources);
}

#[test]
fn error_messages() {
    let cases = [
        (
            "model m(x: [1]) { let a = relu(x)\n return a; }",
            "expected one of `;`, `+`, `-`, `*`, `/`, `[`, found `return`",
        ),
        (
            "model m(x: [1]) { let a = ; }",
            "expected expression, found `;`",
        ),
        (
            "model m(x: [1]) { let a = f(x, 3 y); }",
            "expected one of `,`, `)`, `+`, `-`, `*`, `/`, `[`, found identifier `y`",
        ),
        ("model m(x: [1]) { let a = x $ 1; }", "invalid token `$`"),
        (
            "model m(x: [1]) { let a = x; } /* ",
            "unterminated block comment",
        ),
        (
            "model m(x: [1]) { let a = f(\"abc); }",
            "unterminated string literal",
        ),
        (
            "model m(x: [1]) { let a = f(\"abc\\\"); }",
            "unterminated string literal",
        ),
        (
            "model m(x: [99999999999999999999]) {}",
            "integer literal too large",
        ),
        (
            "model m(x: [1]) { let a = 1e309; }",
            "float literal out of range",
        ),
        (
            "model m(x: [1]) { let a = \"\\q\"; }",
            "unknown escape sequence in string literal",
        ),
        ("", "expected `model` or `block`, found end of file"),
        (
            "  // nothing\n",
            "expected `model` or `block`, found end of file",
        ),
        (
            "model m(x: [1]) { return x;",
            "unexpected end of file, expected one of `}`, `let`, `return`",
        ),
        (
            "model m(x: [1]) {} 42",
            "expected `model` or `block`, found integer `42`",
        ),
        (
            "model m(x: [1]) { let let = 1; }",
            "expected identifier, found `let`",
        ),
        (
            "model m(x: [1]) { let a = b \"a very long string literal indeed\"; }",
            "expected one of `;`, `+`, `-`, `*`, `/`, `(`, `[`, found string `\"a very long string lit…`",
        ),
    ];
    for (source, message) in cases {
        assert_eq!(parse_err(source).message, message, "{source:?}");
    }
}

#[test]
fn error_locations() {
    let source = "model m(x: [1]) {\n  let a = x @ 1;\n}";
    let error = parse_err(source);
    assert_eq!(error.primary_span().map(|s| text(source, s)), Some("@"));
    let source = "model m(x: [1]) { let a = f(\"é\\ü\"); }";
    let error = parse_err(source);
    assert_eq!(error.primary_span().map(|s| text(source, s)), Some("\\ü"));
    let source = "model m(x: [1]) { let a = é; }";
    let error = parse_err(source);
    assert_eq!(error.message, "invalid token `é`");
    assert_eq!(error.primary_span().map(|s| text(source, s)), Some("é"));
    assert_eq!(parse_err(&wrap("'a'")).message, "invalid token `'`");
    assert_eq!(parse_err(&wrap("\u{7}")).message, "invalid token `\\u{7}`");
    let rendered = error.render(Some(&SourceFile::new("dir/m.sc", source)));
    assert!(rendered.contains("dir/m.sc:1:27"), "{rendered}");
}

#[test]
fn depth_limit() {
    let sum = |terms: usize| vec!["x"; terms].join(" + ");
    assert!(parse(&SourceFile::new("t.sc", wrap(&sum(MAX_EXPR_DEPTH)))).is_ok());
    let error = parse_err(&wrap(&sum(MAX_EXPR_DEPTH + 1)));
    assert_eq!(error.message, "expression nested too deeply");
    // Huge inputs are refused without building (or dropping) a deep tree.
    let n = 200_000;
    for deep in [
        format!("{}1", "-".repeat(n)),
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}x{}", "f(".repeat(n), ")".repeat(n)),
        sum(n),
    ] {
        let _ = parse(&SourceFile::new("t.sc", wrap(&deep)));
    }
    // Redundant parentheses do not nest the tree.
    let parens = format!("{}x{}", "(".repeat(1000), ")".repeat(1000));
    assert_eq!(sexpr(&expr(&parens)), "x");
}
