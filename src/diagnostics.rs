//! Rendering located errors with the source line and a caret, through
//! codespan-reporting. A line too long to show whole (a minified or hostile file)
//! is shown as a short window around the error instead.

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::WriteColor};

use capjit_ir::Span;

use crate::load::SourceFile;

/// Longest source line shown whole.
const MAX_LINE: usize = 1000;
/// Characters shown on each side of an error in a longer line.
const WINDOW: usize = 60;

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `file:line:col`, a window of the line around `start`, and a caret under it.
fn emit_window(out: &mut dyn WriteColor, name: &str, text: &str, start: usize, message: &str, label: &str) {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let col = text[line_start..start].chars().count() + 1;
    let from = floor_boundary(text, start.saturating_sub(WINDOW).max(line_start));
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let to = floor_boundary(text, (start + WINDOW).min(line_end));
    let excerpt: String = text[from..to]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let caret_at = text[from..start].chars().count() + if from > line_start { 4 } else { 0 };
    let dots = if from > line_start { "... " } else { "" };
    let _ = writeln!(out, "error: {message}");
    let _ = writeln!(out, "  --> {name}:{line_no}:{col}");
    let _ = writeln!(out, "   | {dots}{excerpt}{}", if to < line_end { " ..." } else { "" });
    let _ = writeln!(out, "   | {}^ {label}", " ".repeat(caret_at));
}

/// Write an error at `span` of `file` (or a plain message when the file has no text).
pub fn emit(out: &mut dyn WriteColor, file: &SourceFile, span: Option<Span>, message: &str, label: &str) {
    let rendered = match (&file.text, span) {
        (Some(text), Some(span)) if long_line_at(text, span.start as usize) => {
            let start = floor_boundary(text, (span.start as usize).min(text.len()));
            emit_window(out, &file.name, text, start, message, label);
            true
        }
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

/// Whether the line containing byte `at` is too long to show whole.
fn long_line_at(text: &str, at: usize) -> bool {
    let at = floor_boundary(text, at.min(text.len()));
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    end - start > MAX_LINE
}

/// Colours for standard error: only when it is a terminal and `NO_COLOR` is unset.
pub fn stderr_colors() -> codespan_reporting::term::termcolor::ColorChoice {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        codespan_reporting::term::termcolor::ColorChoice::Auto
    } else {
        codespan_reporting::term::termcolor::ColorChoice::Never
    }
}

/// Render into a string without colours (for tests and logs).
pub fn render_plain(file: &SourceFile, span: Option<Span>, message: &str, label: &str) -> String {
    let mut buf = term::termcolor::NoColor::new(Vec::new());
    emit(&mut buf, file, span, message, label);
    String::from_utf8_lossy(&buf.into_inner()).into_owned()
}
