//! Rendering located errors with the source line and a caret, through
//! codespan-reporting.
//!
//! Rendering one error costs about the size of what it shows, not the size of the
//! file, however large the file or the span:
//! - line and column come from a [`LineIndex`], built once per file: a checkpoint
//!   every 64 KiB, so finding a position scans at most 64 KiB;
//! - codespan-reporting sees only an excerpt of the file (the lines the error
//!   shows), so its per-line work is bounded too;
//! - a span longer than [`MAX_SPAN_LINES`] lines or [`MAX_SPAN_BYTES`] bytes (an
//!   error at a whole huge function) is shown by its first line only, with a note
//!   saying where it ends;
//! - a line too long to show whole (a minified or hostile file) is shown as a short
//!   window around the error instead.

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::{Error as FilesError, Files, SimpleFile};
use codespan_reporting::term::{self, termcolor::WriteColor};

use capjit_ir::Span;

use crate::load::SourceFile;

/// Longest source line shown whole.
const MAX_LINE: usize = 1000;
/// Characters shown on each side of an error in a longer line.
const WINDOW: usize = 60;
/// Longest span shown whole, in lines (codespan-reporting itself then shows its
/// first and last few lines).
pub const MAX_SPAN_LINES: usize = 1000;
/// Longest span shown whole, in bytes.
pub const MAX_SPAN_BYTES: usize = 64 << 10;
/// Bytes between two checkpoints of a [`LineIndex`].
const CHUNK: usize = 64 << 10;

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Characters in a byte range of UTF-8 text (bytes that do not continue a character).
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

fn newlines_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The end of the line that starts at or before `from` (the offset of its `\n`, or
/// the end of the text), if it is at most `limit` bytes after `from`.
fn line_end_within(bytes: &[u8], from: usize, limit: usize) -> Option<usize> {
    let stop = from.saturating_add(limit).min(bytes.len());
    match bytes[from..stop].iter().position(|&b| b == b'\n') {
        Some(i) => Some(from + i),
        None if stop == bytes.len() => Some(stop),
        None => None,
    }
}

/// Line and column at the start of one chunk of a text.
#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    /// 0-based index of the line the chunk starts in.
    line: usize,
    /// Byte offset where that line starts.
    line_start: usize,
    /// Characters from `line_start` to the chunk's start.
    col: usize,
}

/// A resolved position in a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Byte offset where the line starts.
    pub line_start: usize,
}

/// Line and column of any byte offset of one text, at a bounded cost each: a
/// checkpoint every 64 KiB (one scan of the text to build, a few bytes per 64 KiB
/// kept), then a scan of at most 64 KiB per lookup.
#[derive(Clone, Debug)]
pub struct LineIndex {
    checkpoints: Vec<Checkpoint>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut checkpoints = Vec::with_capacity(text.len() / CHUNK + 1);
        let mut at = Checkpoint {
            line: 0,
            line_start: 0,
            col: 0,
        };
        for (k, chunk) in text.as_bytes().chunks(CHUNK).enumerate() {
            checkpoints.push(at);
            match chunk.iter().rposition(|&b| b == b'\n') {
                Some(last) => {
                    at.line += newlines_in(chunk);
                    at.line_start = k * CHUNK + last + 1;
                    at.col = chars_in(&chunk[last + 1..]);
                }
                None => at.col += chars_in(chunk),
            }
        }
        if checkpoints.is_empty() {
            checkpoints.push(at);
        }
        LineIndex { checkpoints }
    }

    /// The position of byte `at` of `text` (the text this index was built from),
    /// clamped to the text.
    pub fn locate(&self, text: &str, at: usize) -> Position {
        let at = floor_boundary(text, at.min(text.len()));
        let k = (at / CHUNK).min(self.checkpoints.len() - 1);
        let cp = self.checkpoints[k];
        let from = (k * CHUNK).min(at);
        let scanned = &text.as_bytes()[from..at];
        match scanned.iter().rposition(|&b| b == b'\n') {
            Some(last) => Position {
                line: cp.line + newlines_in(scanned) + 1,
                col: chars_in(&scanned[last + 1..]) + 1,
                line_start: from + last + 1,
            },
            None => Position {
                line: cp.line + 1,
                col: cp.col + chars_in(scanned) + 1,
                line_start: cp.line_start,
            },
        }
    }
}

/// A few whole lines cut out of a file, numbered as in the file: what
/// codespan-reporting is given, so that its work is bounded by what is shown.
struct Excerpt<'a> {
    file: SimpleFile<&'a str, &'a str>,
    /// 0-based index, in the file, of the excerpt's first line.
    first_line: usize,
}

impl<'a> Files<'a> for Excerpt<'a> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: ()) -> Result<&'a str, FilesError> {
        Files::name(&self.file, id)
    }
    fn source(&'a self, id: ()) -> Result<&'a str, FilesError> {
        Files::source(&self.file, id)
    }
    fn line_index(&'a self, id: (), byte_index: usize) -> Result<usize, FilesError> {
        self.file.line_index(id, byte_index)
    }
    fn line_number(&'a self, (): (), line_index: usize) -> Result<usize, FilesError> {
        Ok(self.first_line + line_index + 1)
    }
    fn line_range(&'a self, id: (), line_index: usize) -> Result<Range<usize>, FilesError> {
        self.file.line_range(id, line_index)
    }
}

/// Renders errors against source files, indexing each file's lines once, on its
/// first error.
#[derive(Default)]
pub struct Renderer<'f> {
    indexes: Vec<(&'f SourceFile, LineIndex)>,
}

impl<'f> Renderer<'f> {
    pub fn new() -> Self {
        Self::default()
    }

    fn index(&mut self, file: &'f SourceFile, text: &str) -> &LineIndex {
        let i = match self.indexes.iter().position(|(f, _)| std::ptr::eq(*f, file)) {
            Some(i) => i,
            None => {
                self.indexes.push((file, LineIndex::new(text)));
                self.indexes.len() - 1
            }
        };
        &self.indexes[i].1
    }

    /// Write an error at `span` of `file` (or a plain message when the file has no
    /// text).
    pub fn emit(
        &mut self,
        out: &mut dyn WriteColor,
        file: &'f SourceFile,
        span: Option<Span>,
        message: &str,
        label: &str,
    ) {
        let rendered = match (&file.text, span) {
            (Some(text), Some(span)) => {
                let index = self.index(file, text);
                emit_span(out, &file.name, text, index, span, message, label)
            }
            _ => false,
        };
        if !rendered {
            let _ = writeln!(out, "error: {}: {message}", file.name);
        }
    }
}

/// Render one error; false if codespan-reporting failed.
fn emit_span(
    out: &mut dyn WriteColor,
    name: &str,
    text: &str,
    index: &LineIndex,
    span: Span,
    message: &str,
    label: &str,
) -> bool {
    let bytes = text.as_bytes();
    let start = floor_boundary(text, (span.start as usize).min(text.len()));
    let end = floor_boundary(text, (span.end as usize).clamp(start, text.len()));
    let pos = index.locate(text, start);
    let Some(first_end) =
        line_end_within(bytes, pos.line_start, MAX_LINE + 1).filter(|e| e - pos.line_start <= MAX_LINE)
    else {
        emit_window(out, name, text, index, pos, start, end, message, label);
        return true;
    };
    // Extend the excerpt line by line up to the span's end, within the bounds.
    let mut excerpt_end = first_end;
    let mut lines = 1;
    while end > excerpt_end && lines < MAX_SPAN_LINES && excerpt_end - pos.line_start <= MAX_SPAN_BYTES {
        match line_end_within(bytes, excerpt_end + 1, MAX_LINE + 1) {
            Some(e) if e - (excerpt_end + 1) <= MAX_LINE => excerpt_end = e,
            _ => break,
        }
        lines += 1;
    }
    let (excerpt_end, label_end) = if end > excerpt_end {
        // Too long: show the first line only (without a `\r` before its `\n`).
        let label_end = if first_end > start && bytes[first_end - 1] == b'\r' {
            first_end - 1
        } else {
            first_end
        };
        (first_end, label_end)
    } else {
        (excerpt_end, end)
    };
    let excerpt = Excerpt {
        file: SimpleFile::new(name, &text[pos.line_start..excerpt_end]),
        first_line: pos.line - 1,
    };
    let range = start - pos.line_start..label_end - pos.line_start;
    let mut diag = Diagnostic::error()
        .with_message(message)
        .with_labels(vec![Label::primary((), range).with_message(label)]);
    if label_end < end {
        diag = diag.with_notes(vec![continues_note(text, index, end)]);
    }
    term::emit(out, &term::Config::default(), &excerpt, &diag).is_ok()
}

/// The note under an error whose span is shown cut short: where its last character is.
fn continues_note(text: &str, index: &LineIndex, end: usize) -> String {
    let last = index.locate(text, end.saturating_sub(1));
    format!(
        "note: the span ends at line {}, column {}; only its first line is shown",
        last.line, last.col
    )
}

/// `file:line:col`, a window of the line around `start`, and a caret under it.
#[allow(clippy::too_many_arguments)]
fn emit_window(
    out: &mut dyn WriteColor,
    name: &str,
    text: &str,
    index: &LineIndex,
    pos: Position,
    start: usize,
    end: usize,
    message: &str,
    label: &str,
) {
    let bytes = text.as_bytes();
    let from = floor_boundary(text, start.saturating_sub(WINDOW).max(pos.line_start));
    let (to, more) = match line_end_within(bytes, start, WINDOW + 1) {
        Some(e) if e - start <= WINDOW => (e, false),
        _ => (floor_boundary(text, start + WINDOW), true),
    };
    let excerpt: String = text[from..to]
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let caret_at = text[from..start].chars().count() + if from > pos.line_start { 4 } else { 0 };
    let dots = if from > pos.line_start { "... " } else { "" };
    let _ = writeln!(out, "error: {message}");
    let _ = writeln!(out, "  --> {name}:{}:{}", pos.line, pos.col);
    let _ = writeln!(out, "   | {dots}{excerpt}{}", if more { " ..." } else { "" });
    let _ = writeln!(out, "   | {}^ {label}", " ".repeat(caret_at));
    if end > to && index.locate(text, end - 1).line > pos.line {
        let _ = writeln!(out, "   = {}", continues_note(text, index, end));
    }
}

/// Write an error at `span` of `file` (or a plain message when the file has no text).
/// To render many errors against the same files, use one [`Renderer`].
pub fn emit(out: &mut dyn WriteColor, file: &SourceFile, span: Option<Span>, message: &str, label: &str) {
    Renderer::new().emit(out, file, span, message, label);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Line, column and line start by scanning from the start of the text.
    fn naive(text: &str, at: usize) -> Position {
        let at = floor_boundary(text, at.min(text.len()));
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: text[..at].matches('\n').count() + 1,
            col: text[line_start..at].chars().count() + 1,
            line_start,
        }
    }

    /// Lines of every length around the checkpoint size, multi-byte characters
    /// straddling checkpoints, and a line longer than several checkpoints.
    fn sample() -> String {
        let mut text = String::new();
        let mut seed = 7u64;
        while text.len() < 5 * CHUNK {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 300;
            let piece = ["a", "é", "日", "\r", "𝄞"][(seed >> 20) as usize % 5];
            text.push_str(&piece.repeat(len));
            text.push('\n');
        }
        text.push_str(&"x".repeat(3 * CHUNK + 5));
        text.push_str("\nlast");
        text
    }

    #[test]
    fn locate_agrees_with_a_scan_from_the_start() {
        let text = sample();
        let index = LineIndex::new(&text);
        let mut at = 0;
        while at <= text.len() + 3 {
            assert_eq!(index.locate(&text, at), naive(&text, at), "at byte {at}");
            at += if at % CHUNK < 20 || CHUNK - at % CHUNK < 20 {
                1
            } else {
                97
            };
        }
        for at in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, text.len() - 1, text.len()] {
            assert_eq!(index.locate(&text, at), naive(&text, at), "at byte {at}");
        }
        for text in ["", "\n", "\n\n", "é"] {
            let index = LineIndex::new(text);
            for at in 0..=text.len() + 1 {
                assert_eq!(index.locate(text, at), naive(text, at), "at byte {at} of {text:?}");
            }
        }
    }

    fn file(text: &str) -> SourceFile {
        SourceFile {
            name: "f.cir".into(),
            text: Some(text.to_string()),
        }
    }

    fn span(start: usize, end: usize) -> Option<Span> {
        Some(Span {
            start: start as u32,
            end: end as u32,
        })
    }

    #[test]
    fn a_short_span_over_several_lines_is_shown_whole() {
        let text = "domain d {\n  func f() {\n  block0:\n    trap\n  }\n}\n";
        let start = text.find("func").unwrap();
        let end = text.rfind("  }").unwrap() + 3;
        let out = render_plain(&file(text), span(start, end), "bad", "here");
        assert!(out.contains("f.cir:2:3"), "{out}");
        for line in ["func f() {", "block0:", "trap", "╰"] {
            assert!(out.contains(line), "{line:?} missing:\n{out}");
        }
        assert!(!out.contains("note"), "{out}");
    }

    #[test]
    fn a_span_of_many_lines_is_cut_to_its_first_line() {
        let body = "    v1 = iconst.i32 1\n".repeat(MAX_SPAN_LINES * 3);
        let text = format!("domain d {{\n  func f() {{\n  block0:\n{body}    trap\n  }}\n}}\n");
        let start = text.find("func").unwrap();
        let end = text.rfind("  }").unwrap() + 3;
        let out = render_plain(&file(&text), span(start, end), "bad", "here");
        let last = MAX_SPAN_LINES * 3 + 5;
        assert!(out.contains("f.cir:2:3"), "{out}");
        assert!(out.contains("2 │   func f() {"), "{out}");
        assert!(out.contains("^^^^^^^^^^ here"), "{out}");
        assert!(out.contains(&format!("ends at line {last}, column 3")), "{out}");
        assert!(!out.contains("iconst"), "{out}");
        assert!(out.lines().count() < 10, "{out}");
    }

    #[test]
    fn a_span_from_a_long_line_is_a_window_with_a_note() {
        let text = format!("{}\nmore\n", "x".repeat(3 * MAX_LINE));
        let out = render_plain(&file(&text), span(2 * MAX_LINE, text.len()), "bad", "here");
        assert!(out.contains(&format!("f.cir:1:{}", 2 * MAX_LINE + 1)), "{out}");
        assert!(out.contains("^ here"), "{out}");
        assert!(out.contains("ends at line 2, column 5"), "{out}");
        assert!(out.len() < 1000, "{out}");
    }
}
