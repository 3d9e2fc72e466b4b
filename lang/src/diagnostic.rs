//! The diagnostic every stage of scc reports errors with.
//!
//! A [`Diagnostic`] is located either in a source file (by [`Span`]s) or not at all
//! (a weight name, an input name or a path is then part of the message). Rendering
//! uses `codespan-reporting`: `file:line:col`, the source line and an underline.

use crate::span::{SourceFile, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// A located message attached to a [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The source text the label underlines.
    pub span: Span,
    /// What the label says about that text (may be empty).
    pub message: String,
    /// The primary label is the error's location; secondary labels add context.
    pub primary: bool,
}

/// An error: a message, optionally located by labels, with notes that explain or help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The one-line error message.
    pub message: String,
    /// Locations in the source file, the primary one first by convention.
    pub labels: Vec<Label>,
    /// Additional explanations, printed after the source excerpt.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with `message` and no location or note yet.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds the primary location of the error.
    pub fn with_primary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// Adds a secondary location that explains the error.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds a note, printed after the source excerpt.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The primary span, if the diagnostic has a source location.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }

    /// Renders without colours: `error: ...`, then `┌─ file:line:col`, the source line
    /// and its underline, then the notes. Without a source file, labels are dropped.
    pub fn render(&self, source: Option<&SourceFile>) -> String {
        let config = term::Config::default();
        match source {
            Some(source) => {
                let file = SimpleFile::new(source.name.as_str(), source.text.as_str());
                let diagnostic = self.to_codespan(source.text.len());
                term::emit_into_string(&config, &file, &diagnostic)
                    .unwrap_or_else(|_| self.render_plain())
            }
            None => self.render_plain(),
        }
    }

    fn render_plain(&self) -> String {
        let mut out = format!("error: {}\n", self.message);
        for note in &self.notes {
            out.push_str(&format!("  = {note}\n"));
        }
        out
    }

    fn to_codespan(&self, text_len: usize) -> cs::Diagnostic<()> {
        let clamp = |span: Span| {
            let start = span.start.min(text_len);
            start..span.end.clamp(start, text_len)
        };
        let labels = self
            .labels
            .iter()
            .map(|label| {
                let style = if label.primary {
                    cs::LabelStyle::Primary
                } else {
                    cs::LabelStyle::Secondary
                };
                cs::Label::new(style, (), clamp(label.span)).with_message(label.message.clone())
            })
            .collect();
        cs::Diagnostic::error()
            .with_message(self.message.clone())
            .with_labels(labels)
            .with_notes(self.notes.clone())
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}
