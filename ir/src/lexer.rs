//! Tokens of the `.cir` text format. Linear in the input, never panics.

use crate::model::Span;
use crate::parse::ParseError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tok<'a> {
    /// `[A-Za-z_][A-Za-z0-9_.]*`: keywords, names, opcodes, `vN`, `blockN`.
    Word(&'a str),
    /// A number-like token: starts with a digit, or `-` followed by an alphanumeric.
    Number(&'a str),
    /// A string literal, with its raw (still escaped) contents.
    Str(&'a str),
    Punct(char),
    Arrow,
    Eof,
}

impl Tok<'_> {
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => quoted(w),
            Tok::Number(n) => format!("number {}", quoted(n)),
            Tok::Str(_) => "a string".to_string(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Arrow => "`->`".to_string(),
            Tok::Eof => "end of input".to_string(),
        }
    }
}

/// Source text quoted for a message: `text`, or its first characters when it is long,
/// so that a huge token does not make a huge message.
pub(crate) fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("`{}...` ({} bytes)", &text[..cut], text.len()),
        None => format!("`{text}`"),
    }
}

pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn skip_trivia(&mut self) {
        let b = self.bytes();
        while self.pos < b.len() {
            match b[self.pos] {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b';' => {
                    while self.pos < b.len() && b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn span(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The next token and its span.
    pub fn next_token(&mut self) -> Result<(Tok<'a>, Span), ParseError> {
        self.skip_trivia();
        let b = self.bytes();
        let start = self.pos;
        if start >= b.len() {
            return Ok((Tok::Eof, Self::span(start, start)));
        }
        let c = b[start];
        if is_word_start(c) {
            let mut end = start + 1;
            while end < b.len() && is_word_char(b[end]) {
                end += 1;
            }
            self.pos = end;
            return Ok((Tok::Word(&self.src[start..end]), Self::span(start, end)));
        }
        if c.is_ascii_digit() || (c == b'-' && b.get(start + 1).is_some_and(|n| n.is_ascii_alphanumeric())) {
            let mut end = start + 1;
            let hex = b.get(start..start + 2) == Some(b"0x") || b.get(start + 1..start + 3) == Some(b"0x");
            while end < b.len() {
                let ch = b[end];
                let exp_sign = !hex
                    && (ch == b'-' || ch == b'+')
                    && matches!(b[end - 1], b'e' | b'E')
                    && b[start..end - 1]
                        .iter()
                        .all(|d| d.is_ascii_digit() || matches!(d, b'.' | b'-' | b'+'));
                if ch.is_ascii_alphanumeric() || ch == b'_' || ch == b'.' || exp_sign {
                    end += 1;
                } else {
                    break;
                }
            }
            self.pos = end;
            return Ok((Tok::Number(&self.src[start..end]), Self::span(start, end)));
        }
        if c == b'"' {
            let mut end = start + 1;
            while end < b.len() && b[end] != b'"' {
                if b[end] == b'\\' {
                    end += 1;
                }
                end += 1;
            }
            if end >= b.len() {
                return Err(ParseError::new(
                    "unterminated string literal: expected a closing `\"`, found end of input",
                    Self::span(start, b.len().min(start + 1)),
                ));
            }
            self.pos = end + 1;
            return Ok((Tok::Str(&self.src[start + 1..end]), Self::span(start, end + 1)));
        }
        if c == b'-' && b.get(start + 1) == Some(&b'>') {
            self.pos = start + 2;
            return Ok((Tok::Arrow, Self::span(start, start + 2)));
        }
        // A lone `-` (not a number, not `->`) marks an empty table entry.
        if b"(){}[]<>,:=!+-".contains(&c) {
            self.pos = start + 1;
            return Ok((Tok::Punct(c as char), Self::span(start, start + 1)));
        }
        // Report the whole (possibly multi-byte) character.
        let ch = self.src[start..].chars().next().unwrap_or('?');
        let hint = if ch.is_ascii() {
            ""
        } else {
            " (outside strings, the text format is ASCII)"
        };
        Err(ParseError::new(
            format!("unexpected character {ch:?}{hint}"),
            Self::span(start, start + ch.len_utf8()),
        ))
    }
}
