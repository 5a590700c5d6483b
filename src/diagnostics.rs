//! Rendering located errors with the source line and a caret, through
//! codespan-reporting.

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::WriteColor};

use capjit_ir::Span;

use crate::load::SourceFile;

/// Write an error at `span` of `file` (or a plain message when the file has no text).
pub fn emit(out: &mut dyn WriteColor, file: &SourceFile, span: Option<Span>, message: &str, label: &str) {
    let rendered = match (&file.text, span) {
        (Some(text), Some(span)) => {
            let files = SimpleFile::new(file.name.as_str(), text.as_str());
            let start = (span.start as usize).min(text.len());
            let end = (span.end as usize).clamp(start, text.len());
            let diag = Diagnostic::error()
                .with_message(message)
                .with_labels(vec![Label::primary((), start..end).with_message(label)]);
            term::emit(out, &term::Config::default(), &files, &diag).is_ok()
        }
        _ => false,
    };
    if !rendered {
        let _ = writeln!(out, "error: {}: {message}", file.name);
    }
}

/// Render into a string without colours (for tests and logs).
pub fn render_plain(file: &SourceFile, span: Option<Span>, message: &str, label: &str) -> String {
    let mut buf = term::termcolor::NoColor::new(Vec::new());
    emit(&mut buf, file, span, message, label);
    String::from_utf8_lossy(&buf.into_inner()).into_owned()
}
