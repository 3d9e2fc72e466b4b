//! The parser of `.sc` files: source text to [`ast::File`], or a located [`Diagnostic`].
//!
//! The grammar lives in `grammar.lalrpop` and uses lalrpop's built-in lexer. This module
//! holds the helpers its actions call and turns every lalrpop error into a diagnostic
//! that says what was expected and what was found, in words a user can read.

use crate::ast::{self, Arg, BinOp, Call, Expr, ExprKind, Ident};
use crate::diagnostic::Diagnostic;
use crate::span::{SourceFile, Span};
use lalrpop_util::ParseError;
use lalrpop_util::lexer::Token;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_qualifications, missing_docs)]
    grammar
);

/// The deepest expression the parser accepts, counted in AST levels (`a + b + c` is three
/// levels deep, `f(g(x))` too). Deeper expressions are refused with a diagnostic, so that
/// no later stage can overflow its stack walking the AST recursively.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Parses a whole `.sc` file.
///
/// Returns the file's blocks and models in source order, every node spanning the exact
/// bytes it was parsed from, or the first error found: a lexical error (invalid
/// character, unterminated comment or string, out-of-range literal), a syntax error
/// (expected tokens and the token found), a file without items, or an expression deeper
/// than [`MAX_EXPR_DEPTH`]. The diagnostic's primary label points into `source`. Never
/// panics.
pub fn parse(source: &SourceFile) -> Result<ast::File, Diagnostic> {
    grammar::FileParser::new()
        .parse(&source.text)
        .map_err(|error| to_diagnostic(error, &source.text))
}

// ---------------------------------------------------------------------------------------
// Helpers called by the grammar's actions.

/// The error type of the grammar's fallible actions.
type ActionError<T> = ParseError<usize, T, Diagnostic>;

/// An expression under construction, with its depth (a leaf has depth 1).
pub(crate) struct Nested {
    pub(crate) expr: Expr,
    pub(crate) depth: usize,
}

impl Nested {
    /// The same expression, spanning `span` (used to include enclosing parentheses).
    pub(crate) fn respan(mut self, span: Span) -> Nested {
        self.expr.span = span;
        self
    }
}

/// A literal or a name.
pub(crate) fn leaf(kind: ExprKind, span: Span) -> Nested {
    Nested {
        expr: Expr { kind, span },
        depth: 1,
    }
}

/// Builds a node whose children are `depth - 1` deep, refusing it past [`MAX_EXPR_DEPTH`].
fn node<T>(kind: ExprKind, span: Span, depth: usize) -> Result<Nested, ActionError<T>> {
    if depth > MAX_EXPR_DEPTH {
        let error = Diagnostic::error("expression nested too deeply")
            .with_primary(span, format!("more than {MAX_EXPR_DEPTH} levels deep"))
            .with_note("split the expression with `let` statements");
        return Err(ParseError::User { error });
    }
    Ok(Nested {
        expr: Expr { kind, span },
        depth,
    })
}

/// `lhs op rhs`.
pub(crate) fn binary<T>(
    op: BinOp,
    lhs: Nested,
    rhs: Nested,
    span: Span,
) -> Result<Nested, ActionError<T>> {
    let depth = 1 + lhs.depth.max(rhs.depth);
    let kind = ExprKind::Binary {
        op,
        lhs: Box::new(lhs.expr),
        rhs: Box::new(rhs.expr),
    };
    node(kind, span, depth)
}

/// `-operand`.
pub(crate) fn negate<T>(operand: Nested, span: Span) -> Result<Nested, ActionError<T>> {
    node(
        ExprKind::Neg(Box::new(operand.expr)),
        span,
        operand.depth + 1,
    )
}

/// `(first, second)`.
pub(crate) fn pair<T>(first: Nested, second: Nested, span: Span) -> Result<Nested, ActionError<T>> {
    let depth = 1 + first.depth.max(second.depth);
    node(
        ExprKind::Pair(Box::new(first.expr), Box::new(second.expr)),
        span,
        depth,
    )
}

/// `[items...]`.
pub(crate) fn list<T>(items: Vec<Nested>, span: Span) -> Result<Nested, ActionError<T>> {
    let depth = 1 + items.iter().map(|item| item.depth).max().unwrap_or(0);
    let items = items.into_iter().map(|item| item.expr).collect();
    node(ExprKind::List(items), span, depth)
}

/// `base[position]`.
pub(crate) fn index<T>(
    base: Nested,
    position: Nested,
    span: Span,
) -> Result<Nested, ActionError<T>> {
    let depth = 1 + base.depth.max(position.depth);
    node(
        ExprKind::Index {
            base: Box::new(base.expr),
            position: Box::new(position.expr),
        },
        span,
        depth,
    )
}

/// `callee(args...)`, each argument with the depth of its value.
pub(crate) fn call<T>(
    callee: Ident,
    args: Vec<(Arg, usize)>,
    span: Span,
) -> Result<Nested, ActionError<T>> {
    let depth = 1 + args.iter().map(|(_, depth)| *depth).max().unwrap_or(0);
    let args = args.into_iter().map(|(arg, _)| arg).collect();
    node(ExprKind::Call(Call { callee, args }), span, depth)
}

/// The value of an integer literal (digits only), or an error if it exceeds `i64::MAX`.
pub(crate) fn parse_int<T>(text: &str, span: Span) -> Result<i64, ActionError<T>> {
    text.parse().map_err(|_| ParseError::User {
        error: Diagnostic::error("integer literal too large")
            .with_primary(span, "does not fit in 64 bits")
            .with_note(format!("the largest integer is {}", i64::MAX)),
    })
}

/// The value of a float literal, or an error if it overflows to infinity.
pub(crate) fn parse_float<T>(text: &str, span: Span) -> Result<f64, ActionError<T>> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(ParseError::User {
            error: Diagnostic::error("float literal out of range")
                .with_primary(span, "too large for an f64"),
        }),
    }
}

/// Unescapes a string literal's text, quotes included: `\"`, `\\`, `\n` and `\t` are the
/// only escapes.
pub(crate) fn parse_string<T>(text: &str, span: Span) -> Result<String, ActionError<T>> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        let escaped = chars.next().map(|(_, e)| e);
        match escaped {
            Some('"') => value.push('"'),
            Some('\\') => value.push('\\'),
            Some('n') => value.push('\n'),
            Some('t') => value.push('\t'),
            _ => {
                // `offset` is relative to `inner`, one byte after the opening quote.
                let start = span.start + 1 + offset;
                let end = start + 1 + escaped.map_or(0, char::len_utf8);
                return Err(ParseError::User {
                    error: Diagnostic::error("unknown escape sequence in string literal")
                        .with_primary(Span::new(start, end), "unknown escape")
                        .with_note(r#"the escapes are `\"`, `\\`, `\n` and `\t`"#),
                });
            }
        }
    }
    Ok(value)
}

// ---------------------------------------------------------------------------------------
// Error reporting.

/// The diagnostic for any error of the generated parser on `text`.
fn to_diagnostic(error: ParseError<usize, Token<'_>, Diagnostic>, text: &str) -> Diagnostic {
    match error {
        ParseError::User { error } => error,
        ParseError::InvalidToken { location } => invalid_token(text, location),
        ParseError::UnrecognizedEof { location, expected } => {
            let span = Span::new(location, location);
            let expected = Expected::new(&expected);
            if expected.is_item_start() {
                Diagnostic::error("expected `model` or `block`, found end of file")
                    .with_primary(span, "the file holds no model or block")
                    .with_note("a .sc file holds at least one model or block")
            } else {
                Diagnostic::error(format!("unexpected end of file, expected {expected}"))
                    .with_primary(span, format!("expected {expected} after this"))
            }
        }
        ParseError::UnrecognizedToken {
            token: (start, Token(_, found), end),
            expected,
        } => unexpected_token(
            text,
            found,
            Span::new(start, end),
            &Expected::new(&expected),
        ),
        ParseError::ExtraToken {
            token: (start, Token(_, found), end),
        } => unexpected_token(text, found, Span::new(start, end), &Expected::new(&[])),
    }
}

/// The diagnostic for a character no token starts with, at byte `location` of `text`.
fn invalid_token(text: &str, location: usize) -> Diagnostic {
    match text.get(location..).and_then(|rest| rest.chars().next()) {
        Some(c) => {
            // Invisible and control characters are shown escaped.
            let shown = match c {
                '\'' => "'".to_string(),
                c => c.escape_debug().to_string(),
            };
            Diagnostic::error(format!("invalid token `{shown}`")).with_primary(
                Span::new(location, location + c.len_utf8()),
                "not part of the language",
            )
        }
        None => Diagnostic::error("invalid token")
            .with_primary(Span::new(location, location), "not part of the language"),
    }
}

/// The diagnostic for the token `found`, at `span` in `text`, where `expected` was due.
fn unexpected_token(text: &str, found: &str, span: Span, expected: &Expected) -> Diagnostic {
    if found.starts_with("/*") {
        return Diagnostic::error("unterminated block comment")
            .with_primary(span, "this comment is never closed")
            .with_note("block comments end with `*/` and do not nest");
    }
    if found.starts_with('"') && !is_terminated_string(found) {
        return Diagnostic::error("unterminated string literal")
            .with_primary(span, "missing closing `\"`")
            .with_note("a string literal ends on the line it starts");
    }
    let kind = TokenKind::of(found);
    let message = if expected.is_empty() {
        format!("unexpected {}", kind.describe(found))
    } else {
        format!("expected {expected}, found {}", kind.describe(found))
    };
    let mut diagnostic =
        Diagnostic::error(message).with_primary(span, format!("unexpected {}", kind.name(found)));
    if let Some(end) = missing_semicolon(text, span.start, expected) {
        diagnostic = diagnostic.with_secondary(Span::new(end, end), "`;` may be missing here");
    }
    if kind == TokenKind::Keyword && expected.contains("identifier") {
        diagnostic = diagnostic.with_note(format!("`{found}` is a keyword, it cannot be a name"));
    }
    diagnostic
}

/// Where a `;` is probably missing: when `;` is expected and the unexpected token, at
/// `found`, starts a line after the end of the previous token, returns that end.
fn missing_semicolon(text: &str, found: usize, expected: &Expected) -> Option<usize> {
    if !expected.contains("`;`") {
        return None;
    }
    let end = previous_token_end(text.get(..found)?);
    text.get(end..found)?.contains('\n').then_some(end)
}

/// The end of the last token of `text`, skipping whitespace and comments (0 if none).
fn previous_token_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                end = i;
            }
            byte if byte.is_ascii_whitespace() => i += 1,
            _ => {
                i += text
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(1, char::len_utf8);
                end = i;
            }
        }
    }
    end
}

/// Whether a token starting with `"` is a whole string literal (closing quote included).
fn is_terminated_string(token: &str) -> bool {
    let mut chars = token.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return chars.next().is_none(),
            _ => {}
        }
    }
    false
}

/// The class of a token the parser did not expect, recognised from its text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Keyword,
    Identifier,
    Integer,
    Float,
    String,
    Punctuation,
}

const KEYWORDS: [&str; 7] = ["model", "block", "let", "return", "int", "true", "false"];

impl TokenKind {
    fn of(text: &str) -> TokenKind {
        match text.chars().next() {
            Some(c) if c.is_ascii_digit() => {
                if text.bytes().all(|b| b.is_ascii_digit()) {
                    TokenKind::Integer
                } else {
                    TokenKind::Float
                }
            }
            Some('"') => TokenKind::String,
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                if KEYWORDS.contains(&text) {
                    TokenKind::Keyword
                } else {
                    TokenKind::Identifier
                }
            }
            _ => TokenKind::Punctuation,
        }
    }

    /// A short name for a label: "`let`", "identifier", "integer".
    fn name(self, text: &str) -> String {
        match self {
            TokenKind::Keyword | TokenKind::Punctuation => format!("`{text}`"),
            TokenKind::Identifier => "identifier".into(),
            TokenKind::Integer => "integer".into(),
            TokenKind::Float => "float".into(),
            TokenKind::String => "string".into(),
        }
    }

    /// The token for a message: "`let`", "identifier `foo`", "string `\"abc\"`".
    fn describe(self, text: &str) -> String {
        match self {
            TokenKind::Keyword | TokenKind::Punctuation => format!("`{text}`"),
            _ => format!("{} `{}`", self.name(text), shorten(text)),
        }
    }
}

/// `text`, cut to about 24 characters.
fn shorten(text: &str) -> String {
    const MAX: usize = 24;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// The tokens the parser expected, readable and in a stable, sensible order.
struct Expected(Vec<String>);

/// Readable names of lalrpop's terminals, in the order they are listed: separators and
/// closers first, then operators, then what starts an expression, then the rest.
/// A terminal missing here is listed last, its quotes replaced by backticks.
const TOKEN_ORDER: [(&str, &str); 25] = [
    ("\";\"", "`;`"),
    ("\",\"", "`,`"),
    ("\")\"", "`)`"),
    ("\"]\"", "`]`"),
    ("\"}\"", "`}`"),
    ("\"=\"", "`=`"),
    ("\":\"", "`:`"),
    ("\"+\"", "`+`"),
    ("\"-\"", "`-`"),
    ("\"*\"", "`*`"),
    ("\"/\"", "`/`"),
    ("\"(\"", "`(`"),
    ("\"[\"", "`[`"),
    ("\"{\"", "`{`"),
    ("IDENT", "identifier"),
    ("INT", "integer"),
    ("FLOAT", "float"),
    ("STRING", "string"),
    ("\"true\"", "`true`"),
    ("\"false\"", "`false`"),
    ("\"let\"", "`let`"),
    ("\"return\"", "`return`"),
    ("\"int\"", "`int`"),
    ("\"model\"", "`model`"),
    ("\"block\"", "`block`"),
];

/// What can start an expression; listed as the single word "expression" when all expected.
const EXPRESSION_START: [&str; 9] = [
    "`-`",
    "`(`",
    "`[`",
    "identifier",
    "integer",
    "float",
    "string",
    "`true`",
    "`false`",
];

/// Past this many alternatives, the list is cut short.
const MAX_LISTED: usize = 8;

impl Expected {
    /// Makes lalrpop's expected terminal names (`"\";\""`, `IDENT`, ...) readable.
    fn new(names: &[String]) -> Expected {
        let mut readable: Vec<String> = TOKEN_ORDER
            .iter()
            .filter(|(raw, _)| names.iter().any(|name| name == raw))
            .map(|(_, readable)| readable.to_string())
            .collect();
        for name in names {
            if !TOKEN_ORDER.iter().any(|(raw, _)| raw == name) {
                let shown = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
                    Some(literal) => format!("`{literal}`"),
                    None => name.to_lowercase(),
                };
                if !readable.contains(&shown) {
                    readable.push(shown);
                }
            }
        }
        if EXPRESSION_START
            .iter()
            .all(|token| readable.iter().any(|r| r == token))
        {
            let is_start = |r: &String| EXPRESSION_START.contains(&r.as_str());
            let first = readable.iter().position(is_start).unwrap_or(0);
            readable.retain(|r| !is_start(r));
            readable.insert(first.min(readable.len()), "expression".to_string());
        }
        Expected(readable)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, readable: &str) -> bool {
        self.0.iter().any(|r| r == readable)
    }

    /// Whether exactly `model` and `block` are expected: nothing has been parsed yet.
    fn is_item_start(&self) -> bool {
        self.0.len() == 2 && self.contains("`model`") && self.contains("`block`")
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("nothing"),
            [one] => f.write_str(one),
            [first, second] => write!(f, "{first} or {second}"),
            all if all.len() <= MAX_LISTED => write!(f, "one of {}", all.join(", ")),
            all => write!(
                f,
                "one of {}, or {} more",
                all[..MAX_LISTED - 1].join(", "),
                all.len() - (MAX_LISTED - 1)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(names: &[&str]) -> String {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Expected::new(&names).to_string()
    }

    #[test]
    fn expected_tokens_are_readable() {
        assert_eq!(expected(&["\";\""]), "`;`");
        assert_eq!(expected(&["\"block\"", "\"model\""]), "`model` or `block`");
        assert_eq!(
            expected(&["\"+\"", "\";\"", "\"-\"", "\";\""]),
            "one of `;`, `+`, `-`"
        );
        let expression = [
            "\"(\"",
            "\"[\"",
            "\"-\"",
            "IDENT",
            "INT",
            "FLOAT",
            "STRING",
            "\"true\"",
            "\"false\"",
        ];
        assert_eq!(expected(&expression), "expression");
        assert_eq!(
            expected(&[&expression[..], &["\")\""]].concat()),
            "`)` or expression"
        );
        // Terminals unknown to the table are still listed.
        assert_eq!(expected(&["\"?\"", "NEW_TERMINAL"]), "`?` or new_terminal");
        let many = [
            "\";\"", "\",\"", "\")\"", "\"]\"", "\"}\"", "\"=\"", "\":\"", "\"+\"", "\"*\"",
        ];
        assert_eq!(
            expected(&many),
            "one of `;`, `,`, `)`, `]`, `}`, `=`, `:`, or 2 more"
        );
    }

    #[test]
    fn previous_token_end_skips_trivia() {
        assert_eq!(previous_token_end(""), 0);
        assert_eq!(previous_token_end("  // c\n"), 0);
        assert_eq!(previous_token_end("a(x) // c;\n /* d\n */ \n"), 4);
        assert_eq!(previous_token_end("f(\"a // b\")  "), 11);
        assert_eq!(previous_token_end("é  "), 2);
        assert_eq!(previous_token_end("\"é\\"), 4);
    }
}
