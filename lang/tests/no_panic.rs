//! Property tests: the parser never panics, whatever the input, and its diagnostics
//! always point inside the source and render.

use proptest::prelude::*;
use scc_lang::{SourceFile, Span, parse};

/// Valid sources in the style of the fixtures, to mutate.
const SEEDS: [&str; 4] = [
    r#"// A structured residual block, used twice.
block basic(x, ch: int, stride: int = 1) {
    let conv1 = sconv2d(x, ch, kernel=3, stride=stride, pad=1, c=ch / 2, n=2);
    let bn1 = batchnorm(conv1, eps=1e-5);
    let h = relu(bn1);
    return relu(h + x);
}

model tiny(image: [1, 3, 32, 32]) {
    let stem = conv2d(image, 16, kernel=(3, 3), pad=1);
    let layer1 = basic(stem, 16);
    let pooled = flatten(global_avgpool(layer1));
    let fc = linear(pooled, 10);
    return fc;
}
"#,
    r#"/* Pooling and upsampling. */
model misc_ops(x: [1, 6, 10, 10]) {
    let mp = maxpool(x, kernel=3, stride=2, pad=1);
    let cat = concat(sigmoid(mp), silu(mp));
    let up = upsample(cat, scale=2, mode="nearest");
    let gated = up * hardsigmoid(up);
    return gated, up;
}
"#,
    r#"block inverted(x, ch: int, expand: int) {
    let e = sconv2d(x, ch * expand, kernel=1, c=ch / 2, n=1);
    let dw = sconv2d(e, ch * expand, kernel=3, pad=(1, -1 + 2), groups=ch * expand, c=1, n=2);
    let p = sconv2d(dw, ch, kernel=1, c=(ch * expand - 0) / 2, n=1, bias=false);
    return p + x;
}
model mobilenet_block(x: [1, 8, 12, 12]) { let b = inverted(x, 8, 6); return b; }
"#,
    r#"model head(x: [2, 16]) {
    let fc1 = slinear(x, 12, c=8, bias=true,);
    let s = op(fc1, text="a \"quoted\" \\ string\n", f=0.001, g=1.5e3);
    return softmax(s);
}
"#,
];

/// Characters that stress the lexer and the parser.
const INTERESTING: &[char] = &[
    '(', ')', '{', '}', '[', ']', ';', ',', '=', '+', '-', '*', '/', '"', '\\', ':', '.', 'e', 'x',
    'a', '_', '0', '1', '9', ' ', '\n', '\t', '$', '@', 'é', '€', '\u{0}', '\u{feff}',
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, c: char },
    Replace { at: usize, c: char },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize, to: usize },
    InsertWord { at: usize, word: &'static str },
}

const WORDS: &[&str] = &[
    "model",
    "block",
    "let",
    "return",
    "int",
    "true",
    "false",
    "/*",
    "*/",
    "//",
    "99999999999999999999",
    "1e999",
    "1.5e3",
    "\"s\"",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = any::<usize>();
    let c = prop::sample::select(INTERESTING);
    prop_oneof![
        (pos, 1usize..8).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (pos, c.clone()).prop_map(|(at, c)| Mutation::Insert { at, c }),
        (pos, c).prop_map(|(at, c)| Mutation::Replace { at, c }),
        pos.prop_map(|at| Mutation::Truncate { at }),
        (pos, 1usize..40, pos).prop_map(|(at, len, to)| Mutation::Duplicate { at, len, to }),
        (pos, prop::sample::select(WORDS)).prop_map(|(at, word)| Mutation::InsertWord { at, word }),
    ]
}

/// The char boundary of `text` at or before `seed % (len + 1)`.
fn boundary(text: &str, seed: usize) -> usize {
    let mut at = seed % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &mut String, mutation: &Mutation) {
    match *mutation {
        Mutation::Delete { at, len } => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start));
            text.replace_range(start..end, "");
        }
        Mutation::Insert { at, c } => text.insert(boundary(text, at), c),
        Mutation::Replace { at, c } => {
            let start = boundary(text, at);
            if let Some(old) = text[start..].chars().next() {
                text.replace_range(start..start + old.len_utf8(), c.encode_utf8(&mut [0; 4]));
            }
        }
        Mutation::Truncate { at } => {
            let at = boundary(text, at);
            text.truncate(at);
        }
        Mutation::Duplicate { at, len, to } => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start));
            let copy = text[start..end].to_string();
            text.insert_str(boundary(text, to), &copy);
        }
        Mutation::InsertWord { at, word } => text.insert_str(boundary(text, at), word),
    }
}

/// Parses `text`, checking that an error's labels lie on char boundaries of the text and
/// that the diagnostic renders.
fn check(text: String) -> Result<(), TestCaseError> {
    let source = SourceFile::new("fuzz.sc", text);
    if let Err(diagnostic) = parse(&source) {
        let Some(span) = diagnostic.primary_span() else {
            return Err(TestCaseError::fail(format!("no location: {diagnostic:?}")));
        };
        let Span { start, end } = span;
        prop_assert!(
            start <= end && end <= source.text.len(),
            "{span:?} out of the text"
        );
        prop_assert!(source.text.is_char_boundary(start) && source.text.is_char_boundary(end));
        for label in &diagnostic.labels {
            prop_assert!(source.text.get(label.span.start..label.span.end).is_some());
        }
        prop_assert!(diagnostic.render(Some(&source)).contains("fuzz.sc:"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(scc_testkit::config(512))]

    #[test]
    fn mutated_sources_never_panic(
        seed in prop::sample::select(&SEEDS[..]),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut text = seed.to_string();
        for m in &mutations {
            apply(&mut text, m);
        }
        check(text)?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check(text)?;
    }

    #[test]
    fn token_soup_never_panics(
        text in r#"(model|block|let|return|int|true|false|[a-z_]{1,3}|[0-9]{1,25}|[0-9]\.[0-9]e-?[0-9]{1,3}|"[a-z\\"]{0,4}"?|/\*|\*/|//|[(){}\[\];,=+*/:.$\- \n-]){0,60}"#,
    ) {
        check(text)?;
    }
}

#[test]
fn seeds_parse() {
    for seed in SEEDS {
        let source = SourceFile::new("seed.sc", seed);
        if let Err(d) = parse(&source) {
            panic!("{}", d.render(Some(&source)));
        }
    }
}
