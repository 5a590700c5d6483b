//! Parser for the `.cir` text format (grammar in `docs/ir.md`).
//!
//! Untrusted: whatever it builds is checked by the verifier. It never panics and
//! allocates at most in proportion to the input; nesting is bounded.

use std::collections::HashMap;

use crate::lexer::{quoted, Lexer, Tok};
use crate::model::*;

/// A located syntax error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub span: Span,
}

impl ParseError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        ParseError {
            message: message.into(),
            span,
        }
    }

    /// 1-based line and column of the error's start in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        let upto = (self.span.start as usize).min(src.len());
        let before = src.get(..upto).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

type PResult<T> = Result<T, ParseError>;

/// Deepest `cap<...>` nesting accepted.
const MAX_TYPE_DEPTH: u32 = 16;

/// Parse a whole module.
pub fn parse_module(src: &str) -> PResult<Module> {
    let mut p = Parser::new(src)?;
    let mut domains = Vec::new();
    while p.tok != Tok::Eof {
        domains.push(p.domain()?);
    }
    Ok(Module { domains })
}

/// The block labels of one function, each with the index of the block it names.
/// Labels usually come in order (`block0`, `block1`, ...): while they do, each is
/// its own index and nothing is stored; the first one out of order moves them all
/// into a map.
#[derive(Default)]
struct Labels {
    /// How many labels were seen while they were `0, 1, 2, ...`.
    in_order: u32,
    map: Option<HashMap<u32, u32>>,
}

impl Labels {
    /// Record `label` as naming block `idx`; false if it is already defined.
    fn insert(&mut self, label: u32, idx: u32) -> bool {
        let map = match &mut self.map {
            Some(map) => map,
            None if label == self.in_order && idx == self.in_order => {
                self.in_order += 1;
                return true;
            }
            None => self.map.insert((0..self.in_order).map(|l| (l, l)).collect()),
        };
        map.insert(label, idx).is_none()
    }

    fn get(&self, label: u32) -> Option<u32> {
        match &self.map {
            Some(map) => map.get(&label).copied(),
            None => (label < self.in_order).then_some(label),
        }
    }
}

/// A call to a function by name, resolved when the whole domain has been read.
struct PendingCall {
    func: usize,
    block: usize,
    inst: usize,
    name: String,
    span: Span,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok<'a>,
    span: Span,
    prev_end: u32,
}

fn kw_type(w: &str) -> Option<Type> {
    Some(match w {
        "i32" => Type::I32,
        "i64" => Type::I64,
        "f32" => Type::F32,
        "f64" => Type::F64,
        "region" => Type::Region,
        "buf" => Type::Buf,
        "funcref" => Type::FuncRef,
        "externref" => Type::ExternRef,
        _ => return None,
    })
}

fn num_type(w: &str) -> Option<NumType> {
    Some(match w {
        "i32" => NumType::I32,
        "i64" => NumType::I64,
        "f32" => NumType::F32,
        "f64" => NumType::F64,
        _ => return None,
    })
}

fn bin_op(w: &str) -> Option<BinOp> {
    use BinOp::*;
    Some(match w {
        "iadd" => Iadd,
        "isub" => Isub,
        "imul" => Imul,
        "sdiv" => Sdiv,
        "udiv" => Udiv,
        "srem" => Srem,
        "urem" => Urem,
        "band" => Band,
        "bor" => Bor,
        "bxor" => Bxor,
        "ishl" => Ishl,
        "ushr" => Ushr,
        "sshr" => Sshr,
        "rotl" => Rotl,
        "rotr" => Rotr,
        "fadd" => Fadd,
        "fsub" => Fsub,
        "fmul" => Fmul,
        "fdiv" => Fdiv,
        "fmin" => Fmin,
        "fmax" => Fmax,
        "fcopysign" => Fcopysign,
        _ => return None,
    })
}

fn un_op(w: &str) -> Option<UnOp> {
    use UnOp::*;
    Some(match w {
        "clz" => Clz,
        "ctz" => Ctz,
        "popcnt" => Popcnt,
        "sext8" => Sext8,
        "sext16" => Sext16,
        "sext32" => Sext32,
        "fneg" => Fneg,
        "fabs" => Fabs,
        "fsqrt" => Fsqrt,
        "fceil" => Fceil,
        "ffloor" => Ffloor,
        "ftrunc" => Ftrunc,
        "fnearest" => Fnearest,
        _ => return None,
    })
}

fn int_cc(w: &str) -> Option<IntCC> {
    use IntCC::*;
    Some(match w {
        "eq" => Eq,
        "ne" => Ne,
        "slt" => Slt,
        "sle" => Sle,
        "sgt" => Sgt,
        "sge" => Sge,
        "ult" => Ult,
        "ule" => Ule,
        "ugt" => Ugt,
        "uge" => Uge,
        _ => return None,
    })
}

fn float_cc(w: &str) -> Option<FloatCC> {
    use FloatCC::*;
    Some(match w {
        "eq" => Eq,
        "ne" => Ne,
        "lt" => Lt,
        "le" => Le,
        "gt" => Gt,
        "ge" => Ge,
        _ => return None,
    })
}

fn conv_op(w: &str) -> Option<ConvOp> {
    use ConvOp::*;
    Some(match w {
        "wrap" => Wrap,
        "uextend" => Uextend,
        "sextend" => Sextend,
        "fcvt_to_sint" => FtoSint,
        "fcvt_to_uint" => FtoUint,
        "fcvt_to_sint_sat" => FtoSintSat,
        "fcvt_to_uint_sat" => FtoUintSat,
        "fcvt_from_sint" => SintToF,
        "fcvt_from_uint" => UintToF,
        "fpromote" => Promote,
        "fdemote" => Demote,
        "bitcast" => Bitcast,
        _ => return None,
    })
}

/// `load`, `load8u`, `load16s`, ... -> (bytes, signed); `None` bytes means full width.
fn load_kind(w: &str) -> Option<(Option<u8>, bool)> {
    Some(match w.strip_prefix("load")? {
        "" => (None, false),
        "8u" => (Some(1), false),
        "8s" => (Some(1), true),
        "16u" => (Some(2), false),
        "16s" => (Some(2), true),
        "32u" => (Some(4), false),
        "32s" => (Some(4), true),
        _ => return None,
    })
}

/// `store`, `store8`, `store16`, `store32` -> (bytes, false).
fn store_kind(w: &str) -> Option<(Option<u8>, bool)> {
    Some(match w.strip_prefix("store")? {
        "" => (None, false),
        "8" => (Some(1), false),
        "16" => (Some(2), false),
        "32" => (Some(4), false),
        _ => return None,
    })
}

fn parse_value_name(w: &str) -> Option<Value> {
    let digits = w.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse::<u32>().ok().map(Value)
}

fn parse_block_label(w: &str) -> Option<u32> {
    let digits = w.strip_prefix("block")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok()
}

/// Why an integer literal was refused.
enum IntError {
    /// Not a number at all.
    Malformed,
    /// Well formed, but its magnitude does not fit in 64 bits.
    TooLarge,
}

/// Parse an integer literal: decimal or `0x` hex, optionally negative, `_` between digits.
fn parse_int(text: &str) -> Result<i128, IntError> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digits, radix) = match body.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (body, 10),
    };
    let digits = digits.replace('_', "");
    // Check the digits first, so that `99999999999999999999x` is malformed, not too large.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(IntError::Malformed);
    }
    let mag = u64::from_str_radix(&digits, radix).map_err(|_| IntError::TooLarge)? as i128;
    Ok(if neg { -mag } else { mag })
}

fn is_identifier(w: &str) -> bool {
    !w.contains('.')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> PResult<Self> {
        let mut lex = Lexer::new(src);
        let (tok, span) = lex.next_token()?;
        Ok(Parser {
            lex,
            tok,
            span,
            prev_end: 0,
        })
    }

    fn bump(&mut self) -> PResult<()> {
        self.prev_end = self.span.end;
        let (tok, span) = self.lex.next_token()?;
        self.tok = tok;
        self.span = span;
        Ok(())
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(ParseError::new(msg, self.span))
    }

    fn expected<T>(&self, what: &str) -> PResult<T> {
        self.err(format!("expected {what}, found {}", self.tok.describe()))
    }

    fn eat_punct(&mut self, c: char) -> PResult<bool> {
        if self.tok == Tok::Punct(c) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_punct(&mut self, c: char) -> PResult<()> {
        if self.eat_punct(c)? {
            Ok(())
        } else {
            self.expected(&format!("`{c}`"))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        self.tok == Tok::Word(w)
    }

    fn expect_word(&mut self, w: &str) -> PResult<()> {
        if self.is_word(w) {
            self.bump()
        } else {
            self.expected(&format!("`{w}`"))
        }
    }

    fn word(&mut self, what: &str) -> PResult<(&'a str, Span)> {
        match self.tok {
            Tok::Word(w) => {
                let span = self.span;
                self.bump()?;
                Ok((w, span))
            }
            _ => self.expected(what),
        }
    }

    fn ident(&mut self, what: &str) -> PResult<String> {
        let (w, span) = self.word(what)?;
        if !is_identifier(w) {
            return Err(ParseError::new(format!("expected {what}, found {}", quoted(w)), span));
        }
        Ok(w.to_string())
    }

    fn int_in(&mut self, what: &str, lo: i128, hi: i128) -> PResult<i128> {
        match self.tok {
            Tok::Number(n) => match parse_int(n) {
                Ok(v) if (lo..=hi).contains(&v) => {
                    self.bump()?;
                    Ok(v)
                }
                Ok(_) | Err(IntError::TooLarge) => {
                    self.err(format!("{what} {} is out of range [{lo}, {hi}]", quoted(n)))
                }
                Err(IntError::Malformed) => self.err(format!("expected {what}, found malformed number {}", quoted(n))),
            },
            _ => self.expected(what),
        }
    }

    fn u32_lit(&mut self, what: &str) -> PResult<u32> {
        self.int_in(what, 0, u32::MAX as i128).map(|v| v as u32)
    }

    fn table_index(&mut self) -> PResult<u32> {
        self.u32_lit("a table index")
    }

    fn u64_lit(&mut self, what: &str) -> PResult<u64> {
        self.int_in(what, 0, u64::MAX as i128).map(|v| v as u64)
    }

    fn value(&mut self) -> PResult<Value> {
        if let Tok::Word(w) = self.tok {
            if let Some(v) = parse_value_name(w) {
                self.bump()?;
                return Ok(v);
            }
        }
        self.expected("a value (`v0`, `v1`, ...)")
    }

    // ---- domains -------------------------------------------------------

    fn domain(&mut self) -> PResult<Domain> {
        let start = self.span;
        self.expect_word("domain")?;
        let name = self.ident("a domain name")?;
        self.expect_punct('{')?;
        let mut d = Domain {
            name,
            memory: Memory::default(),
            inbox: None,
            data: Vec::new(),
            passive_data: Vec::new(),
            imports: Vec::new(),
            globals: Vec::new(),
            tables: Vec::new(),
            passive_elems: Vec::new(),
            functions: Vec::new(),
            span: None,
        };
        let mut seen_memory = false;
        let mut tables = Vec::new();
        let mut elems = Vec::new();
        let mut pending = Vec::new();
        loop {
            match self.tok {
                Tok::Punct('}') => break,
                Tok::Word("memory") => {
                    if seen_memory {
                        return self.err("duplicate `memory` declaration");
                    }
                    seen_memory = true;
                    self.bump()?;
                    let initial = self.u32_lit("initial page count")?;
                    let maximum = if matches!(self.tok, Tok::Number(_)) {
                        self.u32_lit("maximum page count")?
                    } else {
                        initial
                    };
                    d.memory = Memory { initial, maximum };
                }
                Tok::Word("inbox") => {
                    if d.inbox.is_some() {
                        return self.err("duplicate `inbox` declaration");
                    }
                    self.bump()?;
                    let offset = self.u32_lit("inbox offset")?;
                    let size = self.u32_lit("inbox size")?;
                    d.inbox = Some(Inbox { offset, size });
                }
                Tok::Word("data") => {
                    self.bump()?;
                    if matches!(self.tok, Tok::Word("passive")) {
                        self.bump()?;
                        let bytes = self.string_bytes()?;
                        d.passive_data.push(bytes);
                        continue;
                    }
                    let offset = self.u32_lit("data offset")?;
                    let bytes = self.string_bytes()?;
                    d.data.push(DataSegment { offset, bytes });
                }
                Tok::Word("import") => {
                    let imp = self.import()?;
                    if d.imports.iter().any(|i| i.name == imp.name) {
                        return Err(ParseError::new(
                            format!("import {} is declared twice", quoted(&imp.name)),
                            imp.span.unwrap_or(self.span),
                        ));
                    }
                    d.imports.push(imp);
                }
                Tok::Word("global") => {
                    let g = self.global()?;
                    if d.globals.iter().any(|x| x.name == g.name) {
                        return Err(ParseError::new(
                            format!("global {} is declared twice", quoted(&g.name)),
                            g.span.unwrap_or(self.span),
                        ));
                    }
                    d.globals.push(g);
                }
                Tok::Word("table") => {
                    self.bump()?;
                    let (elem, entries) = self.ref_entries()?;
                    let maximum = if self.is_word("max") {
                        self.bump()?;
                        Some(self.u32_lit("the maximum number of entries")?)
                    } else {
                        None
                    };
                    tables.push((elem, entries, maximum));
                }
                Tok::Word("elem") => {
                    self.bump()?;
                    elems.push(self.ref_entries()?);
                }
                Tok::Word("export") | Tok::Word("func") => {
                    let func = self.function(d.functions.len(), &mut pending)?;
                    if d.functions.iter().any(|f| f.name == func.name) {
                        return Err(ParseError::new(
                            format!("function {} is defined twice", quoted(&func.name)),
                            func.span.unwrap_or(self.span),
                        ));
                    }
                    d.functions.push(func);
                }
                _ => {
                    return self.expected(
                        "`memory`, `inbox`, `data`, `import`, `global`, `table`, `elem`, `func`, `export` or `}`",
                    )
                }
            }
        }
        self.bump()?;
        d.span = Some(Span {
            start: start.start,
            end: self.prev_end,
        });
        resolve_calls(&mut d, pending)?;
        for (elem, entries, maximum) in tables {
            let init = resolve_entries(&d, entries, "table")?;
            let maximum = maximum.unwrap_or(init.len() as u32);
            d.tables.push(Table { elem, init, maximum });
        }
        for (elem, entries) in elems {
            let items = resolve_entries(&d, entries, "element segment")?;
            d.passive_elems.push(ElemSegment { elem, items });
        }
        Ok(d)
    }

    fn string_bytes(&mut self) -> PResult<Vec<u8>> {
        let Tok::Str(raw) = self.tok else {
            return self.expected("a string literal");
        };
        let span = self.span;
        let mut out = Vec::with_capacity(raw.len());
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'\\' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let esc = b.get(i + 1).copied();
            let (byte, len) = match esc {
                Some(b'n') => (b'\n', 2),
                Some(b't') => (b'\t', 2),
                Some(b'r') => (b'\r', 2),
                Some(b'\\') => (b'\\', 2),
                Some(b'"') => (b'"', 2),
                _ => {
                    // Exactly two hex digits: `from_str_radix` alone would also take `+f`.
                    let hex = b
                        .get(i + 1..i + 3)
                        .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                        .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                    match hex {
                        Some(v) => (v, 3),
                        None => {
                            // The backslash and the character after it (which may be multi-byte).
                            let next = raw[i + 1..].chars().next().map_or(0, char::len_utf8);
                            let at = span.start + 1 + i as u32;
                            return Err(ParseError::new(
                                "bad escape: expected \\n, \\t, \\r, \\\\, \\\" or two hex digits",
                                Span {
                                    start: at,
                                    end: at + 1 + next as u32,
                                },
                            ));
                        }
                    }
                }
            };
            out.push(byte);
            i += len;
        }
        self.bump()?;
        Ok(out)
    }

    fn import(&mut self) -> PResult<Import> {
        let start = self.span;
        self.expect_word("import")?;
        let name = self.ident("an import name")?;
        self.expect_punct('=')?;
        let (path, path_span) = self.word("`domain.function` or `host.function`")?;
        let source = match path.split_once('.') {
            Some(("host", "restart")) => {
                self.expect_punct('(')?;
                let domain = self.ident("a domain name")?;
                self.expect_punct(')')?;
                ImportSource::Restart { domain }
            }
            Some(("host", "file")) => {
                self.expect_punct('(')?;
                let name = self.ident("a granted file name")?;
                self.expect_punct(')')?;
                ImportSource::File { name }
            }
            Some(("host", f)) if is_identifier(f) && !f.is_empty() => ImportSource::Host {
                function: f.to_string(),
            },
            Some((dom, f)) if is_identifier(f) && !f.is_empty() && !dom.is_empty() => ImportSource::Export {
                domain: dom.to_string(),
                function: f.to_string(),
            },
            _ => {
                return Err(ParseError::new(
                    format!("expected `domain.function` or `host.function`, found {}", quoted(path)),
                    path_span,
                ))
            }
        };
        self.expect_punct(':')?;
        let sig = self.signature(0)?;
        Ok(Import {
            name,
            source,
            sig,
            span: Some(Span {
                start: start.start,
                end: self.prev_end,
            }),
        })
    }

    /// `global [mut] NAME : T = CONST`.
    fn global(&mut self) -> PResult<Global> {
        let start = self.span;
        self.expect_word("global")?;
        let mutable = self.is_word("mut");
        if mutable {
            self.bump()?;
        }
        let name = self.ident("a global name")?;
        self.expect_punct(':')?;
        let (w, ty_span) = self.word("a global type (`i32`, `i64`, `f32`, `f64`)")?;
        let Some(ty) = num_type(w) else {
            return Err(ParseError::new(
                format!("a global's type is `i32`, `i64`, `f32` or `f64`, found {}", quoted(w)),
                ty_span,
            ));
        };
        self.expect_punct('=')?;
        let init = self.constant(ty)?;
        Ok(Global {
            name,
            ty,
            mutable,
            init,
            span: Some(Span {
                start: start.start,
                end: self.prev_end,
            }),
        })
    }

    /// A constant of type `ty`, written as for `iconst` / `fconst`.
    fn constant(&mut self, ty: NumType) -> PResult<Const> {
        Ok(match ty {
            NumType::I32 => Const::I32(self.int_in("an i32", i32::MIN as i128, u32::MAX as i128)? as u32 as i32),
            NumType::I64 => Const::I64(self.int_in("an i64", i64::MIN as i128, u64::MAX as i128)? as u64 as i64),
            NumType::F32 => Const::F32(self.float_bits(false)? as u32),
            NumType::F64 => Const::F64(self.float_bits(true)?),
        })
    }

    /// `[funcref | externref] ([NAME | -, ...] | COUNT)` after `table` or `elem`: the
    /// entries' type (funcref when not written), then function names (resolved later)
    /// and `-` for null, or a number of null entries.
    fn ref_entries(&mut self) -> PResult<(RefType, Vec<Entry<'a>>)> {
        let elem = match self.tok {
            Tok::Word("funcref") => RefType::Func,
            Tok::Word("externref") => RefType::Extern,
            _ => return Ok((RefType::Func, self.entries()?)),
        };
        self.bump()?;
        if matches!(self.tok, Tok::Number(_)) {
            let span = self.span;
            let n = self.u32_lit("a number of null entries")?;
            if n > MAX_NULL_ENTRIES {
                return Err(ParseError::new(
                    format!("{n} null entries: at most {MAX_NULL_ENTRIES} may be written this way"),
                    span,
                ));
            }
            return Ok((elem, vec![(None, span); n as usize]));
        }
        Ok((elem, self.entries()?))
    }

    /// `[NAME | -, ...]`: function names (resolved later) or `-` for a null entry.
    fn entries(&mut self) -> PResult<Vec<Entry<'a>>> {
        self.expect_punct('[')?;
        let mut entries = Vec::new();
        if self.eat_punct(']')? {
            return Ok(entries);
        }
        loop {
            if self.tok == Tok::Punct('-') {
                entries.push((None, self.span));
                self.bump()?;
            } else {
                let (w, span) = self.word("a function name or `-` (an empty entry)")?;
                entries.push((Some(w), span));
            }
            if self.eat_punct(']')? {
                return Ok(entries);
            }
            self.expect_punct(',')?;
        }
    }

    // ---- types ---------------------------------------------------------

    fn signature(&mut self, depth: u32) -> PResult<Signature> {
        self.expect_punct('(')?;
        let params = self.type_list(depth, ')')?;
        let results = if self.tok == Tok::Arrow {
            self.bump()?;
            if self.eat_punct('(')? {
                self.type_list(depth, ')')?
            } else {
                vec![self.ty(depth)?]
            }
        } else {
            Vec::new()
        };
        Ok(Signature { params, results })
    }

    /// Comma-separated types up to and including `close`.
    fn type_list(&mut self, depth: u32, close: char) -> PResult<Vec<Type>> {
        let mut tys = Vec::new();
        if self.eat_punct(close)? {
            return Ok(tys);
        }
        loop {
            tys.push(self.ty(depth)?);
            if self.eat_punct(close)? {
                return Ok(tys);
            }
            self.expect_punct(',')?;
        }
    }

    fn ty(&mut self, depth: u32) -> PResult<Type> {
        if let Tok::Word(w) = self.tok {
            if let Some(t) = kw_type(w) {
                self.bump()?;
                return Ok(t);
            }
            if w == "cap" {
                if depth >= MAX_TYPE_DEPTH {
                    return self.err(format!("capability types nested deeper than {MAX_TYPE_DEPTH}"));
                }
                self.bump()?;
                self.expect_punct('<')?;
                let sig = self.signature(depth + 1)?;
                self.expect_punct('>')?;
                return Ok(Type::Cap(Box::new(sig)));
            }
        }
        self.expected("a type (`i32`, `i64`, `f32`, `f64`, `region`, `buf`, `cap<...>`)")
    }

    /// The type after an opcode's dot, e.g. the `i64` of `iadd.i64`.
    fn suffix_num_type(&self, suffix: Option<&str>, span: Span) -> PResult<NumType> {
        match suffix.and_then(num_type) {
            Some(t) => Ok(t),
            None => Err(ParseError::new(
                "expected a type suffix `.i32`, `.i64`, `.f32` or `.f64` on this opcode",
                span,
            )),
        }
    }

    fn fact(&mut self) -> PResult<Option<Fact>> {
        if !self.eat_punct('!')? {
            return Ok(None);
        }
        let (w, span) = self.word("a fact (`range`, `lt`, `mem`)")?;
        self.expect_punct('(')?;
        let fact = match w {
            "range" => {
                let lo = self.u64_lit("range lower bound")?;
                self.expect_punct(',')?;
                let hi = self.u64_lit("range upper bound")?;
                Fact::Range { lo, hi }
            }
            "lt" => Fact::Lt(self.value()?),
            "mem" => Fact::InMemory {
                size: self.u32_lit("access size")?,
            },
            _ => {
                return Err(ParseError::new(
                    format!("unknown fact {}; expected `range`, `lt` or `mem`", quoted(w)),
                    span,
                ))
            }
        };
        self.expect_punct(')')?;
        Ok(Some(fact))
    }

    // ---- functions and blocks -----------------------------------------

    fn function(&mut self, index: usize, pending: &mut Vec<PendingCall>) -> PResult<Function> {
        let start = self.span;
        let exported = self.is_word("export");
        if exported {
            self.bump()?;
        }
        self.expect_word("func")?;
        let name = self.ident("a function name")?;
        let sig = self.signature(0)?;
        self.expect_punct('{')?;
        // Labels map to block indices in order of appearance; refs resolve at the end.
        let mut labels = Labels::default();
        let mut refs: Vec<(u32, Span, usize, RefSlot)> = Vec::new();
        let mut blocks = Vec::new();
        while !self.eat_punct('}')? {
            let (w, span) = self.word("a block label (`block0`, ...) or `}`")?;
            let Some(label) = parse_block_label(w) else {
                return Err(ParseError::new(
                    format!("expected a block label, found {}", quoted(w)),
                    span,
                ));
            };
            let idx = blocks.len() as u32;
            if !labels.insert(label, idx) {
                return Err(ParseError::new(format!("block{label} is defined twice"), span));
            }
            blocks.push(self.block(idx, index, pending, &mut refs)?);
        }
        if blocks.is_empty() {
            return Err(ParseError::new(
                format!("function {} has no blocks", quoted(&name)),
                Span {
                    start: start.start,
                    end: self.prev_end,
                },
            ));
        }
        for (label, span, bi, slot) in refs {
            let Some(target) = labels.get(label) else {
                return Err(ParseError::new(format!("unknown block `block{label}`"), span));
            };
            slot.set(&mut blocks[bi].term, BlockId(target));
        }
        Ok(Function {
            name,
            exported,
            sig,
            blocks,
            span: Some(Span {
                start: start.start,
                end: self.prev_end,
            }),
        })
    }

    fn block(
        &mut self,
        idx: u32,
        func: usize,
        pending: &mut Vec<PendingCall>,
        refs: &mut Vec<(u32, Span, usize, RefSlot)>,
    ) -> PResult<Block> {
        let mut params = Vec::new();
        if self.eat_punct('(')? && !self.eat_punct(')')? {
            loop {
                let value = self.value()?;
                self.expect_punct(':')?;
                let ty = self.ty(0)?;
                let fact = self.fact()?;
                params.push(BlockParam { value, ty, fact });
                if self.eat_punct(')')? {
                    break;
                }
                self.expect_punct(',')?;
            }
        }
        self.expect_punct(':')?;
        let mut insts = Vec::new();
        loop {
            let start = self.span;
            if let Some(term) = self.terminator(idx as usize, refs)? {
                return Ok(Block {
                    params,
                    insts,
                    term,
                    term_span: Some(Span {
                        start: start.start,
                        end: self.prev_end,
                    }),
                });
            }
            let inst_index = insts.len();
            insts.push(self.inst(func, idx as usize, inst_index, pending)?);
        }
    }

    fn defs(&mut self) -> PResult<Vec<Def>> {
        let mut defs = Vec::new();
        loop {
            let value = self.value()?;
            let fact = self.fact()?;
            defs.push(Def { value, fact });
            if self.eat_punct('=')? {
                return Ok(defs);
            }
            self.expect_punct(',')?;
        }
    }

    fn inst(&mut self, func: usize, block: usize, inst: usize, pending: &mut Vec<PendingCall>) -> PResult<Inst> {
        let start = self.span;
        let results = match self.tok {
            Tok::Word(w) if parse_value_name(w).is_some() => self.defs()?.into(),
            _ => Defs::new(),
        };
        let op = self.op(func, block, inst, pending)?;
        Ok(Inst {
            results,
            op,
            span: Some(Span {
                start: start.start,
                end: self.prev_end,
            }),
        })
    }

    fn addr(&mut self) -> PResult<(Value, u32)> {
        let v = self.value()?;
        let off = if self.eat_punct('+')? {
            self.u32_lit("an offset")?
        } else {
            0
        };
        Ok((v, off))
    }

    fn comma_value(&mut self) -> PResult<Value> {
        self.expect_punct(',')?;
        self.value()
    }

    fn mem_access(&self, kind: (Option<u8>, bool), ty: NumType, span: Span) -> PResult<MemAccess> {
        let width = ty.bytes();
        let bytes = kind.0.unwrap_or(width);
        if bytes >= width && kind.0.is_some() || matches!(ty, NumType::F32 | NumType::F64) && kind.0.is_some() {
            return Err(ParseError::new(
                format!("a {bytes}-byte access is not narrower than `{}`", print_num(ty)),
                span,
            ));
        }
        Ok(MemAccess {
            ty,
            bytes,
            signed: kind.1,
        })
    }

    /// A name the operation at `at` (function, block, instruction) refers to, kept
    /// in `pending` until the domain's functions, imports and globals are known.
    fn name_to_resolve(
        &mut self,
        what: &str,
        at: (usize, usize, usize),
        pending: &mut Vec<PendingCall>,
    ) -> PResult<()> {
        let (name, span) = self.word(what)?;
        pending.push(PendingCall {
            func: at.0,
            block: at.1,
            inst: at.2,
            name: name.to_string(),
            span,
        });
        Ok(())
    }

    fn op(&mut self, func: usize, block: usize, inst: usize, pending: &mut Vec<PendingCall>) -> PResult<Op> {
        let (w, span) = self.word("an instruction")?;
        let mut parts = w.splitn(3, '.');
        let head = parts.next().unwrap_or("");
        let s1 = parts.next();
        let s2 = parts.next();
        let op = match (head, s1) {
            ("iconst", _) => match self.suffix_num_type(s1, span)? {
                ty @ (NumType::I32 | NumType::I64) => Op::Const(self.constant(ty)?),
                _ => return Err(ParseError::new("`iconst` needs `.i32` or `.i64`", span)),
            },
            ("fconst", _) => match self.suffix_num_type(s1, span)? {
                ty @ (NumType::F32 | NumType::F64) => Op::Const(self.constant(ty)?),
                _ => return Err(ParseError::new("`fconst` needs `.f32` or `.f64`", span)),
            },
            ("icmp", Some(cc)) => {
                let Some(cc) = int_cc(cc) else {
                    return Err(ParseError::new(
                        format!("unknown integer condition {}", quoted(cc)),
                        span,
                    ));
                };
                let ty = self.suffix_num_type(s2, span)?;
                let a = self.value()?;
                let b = self.comma_value()?;
                Op::Icmp { cc, ty, a, b }
            }
            ("fcmp", Some(cc)) => {
                let Some(cc) = float_cc(cc) else {
                    return Err(ParseError::new(format!("unknown float condition {}", quoted(cc)), span));
                };
                let ty = self.suffix_num_type(s2, span)?;
                let a = self.value()?;
                let b = self.comma_value()?;
                Op::Fcmp { cc, ty, a, b }
            }
            ("select", _) => {
                let ty = self.select_type(s1, s2, span)?;
                let cond = self.value()?;
                let a = self.comma_value()?;
                let b = self.comma_value()?;
                Op::Select { ty, cond, a, b }
            }
            ("memory", Some("size")) if s2.is_none() => Op::MemorySize,
            ("memory", Some("grow")) if s2.is_none() => Op::MemoryGrow { delta: self.value()? },
            ("memory", Some("copy")) if s2.is_none() => {
                let dst = self.value()?;
                let src = self.comma_value()?;
                let len = self.comma_value()?;
                Op::MemoryCopy { dst, src, len }
            }
            ("memory", Some("fill")) if s2.is_none() => {
                let dst = self.value()?;
                let byte = self.comma_value()?;
                let len = self.comma_value()?;
                Op::MemoryFill { dst, byte, len }
            }
            ("memory", Some("init")) if s2.is_none() => {
                let segment = self.u32_lit("a passive data segment index")?;
                let dst = self.comma_value()?;
                let src = self.comma_value()?;
                let len = self.comma_value()?;
                Op::MemoryInit { segment, dst, src, len }
            }
            ("data", Some("drop")) if s2.is_none() => Op::DataDrop {
                segment: self.u32_lit("a passive data segment index")?,
            },
            ("table", Some("copy")) if s2.is_none() => {
                let (dst_table, src_table) = if matches!(self.tok, Tok::Number(_)) {
                    let dst_table = self.table_index()?;
                    self.expect_punct(',')?;
                    let src_table = self.table_index()?;
                    self.expect_punct(',')?;
                    (dst_table, src_table)
                } else {
                    (0, 0)
                };
                let dst = self.value()?;
                let src = self.comma_value()?;
                let len = self.comma_value()?;
                Op::TableCopy {
                    dst_table,
                    src_table,
                    dst,
                    src,
                    len,
                }
            }
            ("ref", Some("null")) if s2.is_none() => {
                let ty = match self.tok {
                    Tok::Word("funcref") => RefType::Func,
                    Tok::Word("externref") => RefType::Extern,
                    _ => return self.expected("`funcref` or `externref`"),
                };
                self.bump()?;
                Op::RefNull { ty }
            }
            ("ref", Some("is_null")) if s2.is_none() => Op::RefIsNull { a: self.value()? },
            ("ref", Some("func")) if s2.is_none() => {
                self.name_to_resolve("a function name", (func, block, inst), pending)?;
                Op::RefFunc { func: u32::MAX }
            }
            ("table", Some("get")) if s2.is_none() => {
                let table = self.table_index()?;
                Op::TableGet {
                    table,
                    index: self.comma_value()?,
                }
            }
            ("table", Some("set")) if s2.is_none() => {
                let table = self.table_index()?;
                let index = self.comma_value()?;
                let value = self.comma_value()?;
                Op::TableSet { table, index, value }
            }
            ("table", Some("size")) if s2.is_none() => Op::TableSize {
                table: self.table_index()?,
            },
            ("table", Some("grow")) if s2.is_none() => {
                let table = self.table_index()?;
                let init = self.comma_value()?;
                let delta = self.comma_value()?;
                Op::TableGrow { table, init, delta }
            }
            ("table", Some("fill")) if s2.is_none() => {
                let table = self.table_index()?;
                let dst = self.comma_value()?;
                let value = self.comma_value()?;
                let len = self.comma_value()?;
                Op::TableFill { table, dst, value, len }
            }
            ("table", Some("init")) if s2.is_none() => {
                let table = self.table_index()?;
                self.expect_punct(',')?;
                let segment = self.u32_lit("a passive element segment index")?;
                let dst = self.comma_value()?;
                let src = self.comma_value()?;
                let len = self.comma_value()?;
                Op::TableInit {
                    table,
                    segment,
                    dst,
                    src,
                    len,
                }
            }
            ("elem", Some("drop")) if s2.is_none() => Op::ElemDrop {
                segment: self.u32_lit("a passive element segment index")?,
            },
            ("call", None) => {
                self.name_to_resolve("a function name", (func, block, inst), pending)?;
                let args = self.paren_values()?;
                Op::Call { func: u32::MAX, args }
            }
            ("call_indirect", None) => {
                let table = if matches!(self.tok, Tok::Number(_)) {
                    let table = self.table_index()?;
                    self.expect_punct(',')?;
                    table
                } else {
                    0
                };
                let index = self.value()?;
                let args = self.paren_values()?;
                self.expect_punct(':')?;
                let sig = Box::new(self.signature(0)?);
                Op::CallIndirect {
                    table,
                    sig,
                    index,
                    args,
                }
            }
            ("global", Some(kind @ ("get" | "set"))) if s2.is_none() => {
                self.name_to_resolve("a global name", (func, block, inst), pending)?;
                if kind == "get" {
                    Op::GlobalGet { global: u32::MAX }
                } else {
                    let value = self.comma_value()?;
                    Op::GlobalSet {
                        global: u32::MAX,
                        value,
                    }
                }
            }
            ("cap", Some("get")) if s2.is_none() => {
                self.name_to_resolve("an import name", (func, block, inst), pending)?;
                Op::CapGet { import: u32::MAX }
            }
            ("buf", Some("make")) if s2.is_none() => {
                let ptr = self.value()?;
                let len = self.comma_value()?;
                Op::BufMake { ptr, len }
            }
            ("buf", Some("ptr")) if s2.is_none() => Op::BufPtr { buf: self.value()? },
            ("buf", Some("len")) if s2.is_none() => Op::BufLen { buf: self.value()? },
            ("region", Some("new")) if s2.is_none() => Op::RegionNew { len: self.value()? },
            ("region", Some("len")) if s2.is_none() => Op::RegionLen { region: self.value()? },
            ("region", Some("free")) if s2.is_none() => Op::RegionFree { region: self.value()? },
            ("region", Some(dir @ ("read" | "write"))) if s2.is_none() => {
                let region = self.value()?;
                let index = self.comma_value()?;
                let addr = self.comma_value()?;
                let len = self.comma_value()?;
                if dir == "read" {
                    Op::RegionRead {
                        region,
                        index,
                        addr,
                        len,
                    }
                } else {
                    Op::RegionWrite {
                        region,
                        index,
                        addr,
                        len,
                    }
                }
            }
            ("region", Some(kind)) => {
                let ty = self.suffix_num_type(s2, span)?;
                if let Some(k) = load_kind(kind) {
                    let access = self.mem_access(k, ty, span)?;
                    let region = self.value()?;
                    let index = self.comma_value()?;
                    Op::RegionLoad { access, region, index }
                } else if let Some(k) = store_kind(kind) {
                    let access = self.mem_access(k, ty, span)?;
                    let value = self.value()?;
                    let region = self.comma_value()?;
                    let index = self.comma_value()?;
                    Op::RegionStore {
                        access,
                        value,
                        region,
                        index,
                    }
                } else {
                    return Err(ParseError::new(format!("unknown instruction {}", quoted(w)), span));
                }
            }
            _ => {
                if let Some(op) = bin_op(head) {
                    let ty = self.suffix_num_type(s1, span)?;
                    if s2.is_some() {
                        return Err(ParseError::new(format!("unknown instruction {}", quoted(w)), span));
                    }
                    let a = self.value()?;
                    let b = self.comma_value()?;
                    Op::Binary { op, ty, a, b }
                } else if let Some(op) = un_op(head) {
                    let ty = self.suffix_num_type(s1, span)?;
                    if s2.is_some() {
                        return Err(ParseError::new(format!("unknown instruction {}", quoted(w)), span));
                    }
                    Op::Unary {
                        op,
                        ty,
                        a: self.value()?,
                    }
                } else if let Some(op) = conv_op(head) {
                    let to = self.suffix_num_type(s1, span)?;
                    let from = self.suffix_num_type(s2, span)?;
                    Op::Convert {
                        op,
                        from,
                        to,
                        a: self.value()?,
                    }
                } else if let Some(k) = load_kind(head) {
                    let ty = self.suffix_num_type(s1, span)?;
                    let access = self.mem_access(k, ty, span)?;
                    let (addr, offset) = self.addr()?;
                    Op::Load { access, addr, offset }
                } else if let Some(k) = store_kind(head) {
                    let ty = self.suffix_num_type(s1, span)?;
                    let access = self.mem_access(k, ty, span)?;
                    let value = self.value()?;
                    self.expect_punct(',')?;
                    let (addr, offset) = self.addr()?;
                    Op::Store {
                        access,
                        value,
                        addr,
                        offset,
                    }
                } else {
                    return Err(ParseError::new(format!("unknown instruction {}", quoted(w)), span));
                }
            }
        };
        Ok(op)
    }

    fn select_type(&mut self, s1: Option<&str>, s2: Option<&str>, span: Span) -> PResult<Type> {
        match (s1, s2) {
            (Some("cap"), None) => {
                // `select.cap<...>`: the signature follows as separate tokens.
                self.expect_punct('<')?;
                let sig = self.signature(1)?;
                self.expect_punct('>')?;
                Ok(Type::Cap(Box::new(sig)))
            }
            (Some(t), None) => match kw_type(t) {
                Some(ty) => Ok(ty),
                None => Err(ParseError::new(format!("unknown type {}", quoted(t)), span)),
            },
            _ => Err(ParseError::new("`select` needs a type suffix, e.g. `select.i32`", span)),
        }
    }

    fn float_bits(&mut self, double: bool) -> PResult<u64> {
        let text = match self.tok {
            Tok::Number(n) => n,
            Tok::Word(w @ ("inf" | "nan")) => w,
            _ => return self.expected("a float literal"),
        };
        let bits = if let Some(hex) = text.strip_prefix("0x") {
            let max = if double { u64::MAX } else { u32::MAX as u64 };
            match u64::from_str_radix(hex, 16) {
                Ok(b) if b <= max => Some(b),
                _ => None,
            }
        } else if double {
            text.parse::<f64>().ok().map(f64::to_bits)
        } else {
            text.parse::<f32>().ok().map(|f| f.to_bits() as u64)
        };
        match bits {
            Some(b) => {
                self.bump()?;
                Ok(b)
            }
            None => self.err(format!(
                "malformed float literal {} (use a decimal, `inf`, `nan`, or 0x raw bits)",
                quoted(text)
            )),
        }
    }

    fn paren_values(&mut self) -> PResult<Vec<Value>> {
        self.expect_punct('(')?;
        let mut vals = Vec::new();
        if self.eat_punct(')')? {
            return Ok(vals);
        }
        loop {
            vals.push(self.value()?);
            if self.eat_punct(')')? {
                return Ok(vals);
            }
            self.expect_punct(',')?;
        }
    }

    // ---- terminators ---------------------------------------------------

    fn block_ref(&mut self, bi: usize, refs: &mut Vec<(u32, Span, usize, RefSlot)>, slot: RefSlot) -> PResult<BlockId> {
        let (w, span) = self.word("a block label")?;
        match parse_block_label(w) {
            Some(label) => {
                refs.push((label, span, bi, slot));
                Ok(BlockId(u32::MAX))
            }
            None => Err(ParseError::new(
                format!("expected a block label, found {}", quoted(w)),
                span,
            )),
        }
    }

    fn block_call(
        &mut self,
        bi: usize,
        refs: &mut Vec<(u32, Span, usize, RefSlot)>,
        slot: RefSlot,
    ) -> PResult<BlockCall> {
        let block = self.block_ref(bi, refs, slot)?;
        let args = if self.tok == Tok::Punct('(') {
            self.paren_values()?
        } else {
            Vec::new()
        };
        Ok(BlockCall { block, args })
    }

    fn terminator(&mut self, bi: usize, refs: &mut Vec<(u32, Span, usize, RefSlot)>) -> PResult<Option<Terminator>> {
        let Tok::Word(w) = self.tok else {
            return Ok(None);
        };
        let term = match w {
            "jump" => {
                self.bump()?;
                Terminator::Jump(self.block_call(bi, refs, RefSlot::Then)?)
            }
            "brif" => {
                self.bump()?;
                let cond = self.value()?;
                self.expect_punct(',')?;
                let then = self.block_call(bi, refs, RefSlot::Then)?;
                self.expect_punct(',')?;
                let else_ = self.block_call(bi, refs, RefSlot::Else)?;
                Terminator::Brif { cond, then, else_ }
            }
            "br_table" => {
                self.bump()?;
                let index = self.value()?;
                self.expect_punct(',')?;
                let default = self.block_call(bi, refs, RefSlot::Else)?;
                self.expect_punct(',')?;
                self.expect_punct('[')?;
                let mut targets = Vec::new();
                if !self.eat_punct(']')? {
                    loop {
                        targets.push(self.block_call(bi, refs, RefSlot::Target(targets.len()))?);
                        if self.eat_punct(']')? {
                            break;
                        }
                        self.expect_punct(',')?;
                    }
                }
                Terminator::BrTable {
                    index,
                    default,
                    targets,
                }
            }
            "return" => {
                self.bump()?;
                let mut vals = Vec::new();
                if matches!(self.tok, Tok::Word(w) if parse_value_name(w).is_some()) {
                    loop {
                        vals.push(self.value()?);
                        if !self.eat_punct(',')? {
                            break;
                        }
                    }
                }
                Terminator::Return(vals)
            }
            "trap" => {
                self.bump()?;
                if matches!(self.tok, Tok::Word(w) if parse_value_name(w).is_some()) {
                    Terminator::TrapWith(self.value()?)
                } else {
                    Terminator::Trap
                }
            }
            "call_cap" => {
                self.bump()?;
                let cap = self.value()?;
                let args = self.paren_values()?;
                if self.tok != Tok::Arrow {
                    return self.expected("`->`");
                }
                self.bump()?;
                self.expect_word("ok")?;
                self.expect_punct('(')?;
                let ok = self.block_ref(bi, refs, RefSlot::Then)?;
                self.expect_punct(')')?;
                self.expect_punct(',')?;
                self.expect_word("fail")?;
                self.expect_punct('(')?;
                let fail = self.block_ref(bi, refs, RefSlot::Else)?;
                self.expect_punct(')')?;
                Terminator::CallCap { cap, args, ok, fail }
            }
            _ => return Ok(None),
        };
        Ok(Some(term))
    }
}

/// Which block reference of a terminator a label fills in.
#[derive(Clone, Copy, Debug)]
enum RefSlot {
    Then,
    Else,
    Target(usize),
}

impl RefSlot {
    fn set(self, term: &mut Terminator, id: BlockId) {
        match (term, self) {
            (Terminator::Jump(c), RefSlot::Then) => c.block = id,
            (Terminator::Brif { then, .. }, RefSlot::Then) => then.block = id,
            (Terminator::Brif { else_, .. }, RefSlot::Else) => else_.block = id,
            (Terminator::BrTable { default, .. }, RefSlot::Else) => default.block = id,
            (Terminator::BrTable { targets, .. }, RefSlot::Target(i)) => {
                if let Some(t) = targets.get_mut(i) {
                    t.block = id;
                }
            }
            (Terminator::CallCap { ok, .. }, RefSlot::Then) => *ok = id,
            (Terminator::CallCap { fail, .. }, RefSlot::Else) => *fail = id,
            _ => {}
        }
    }
}

/// Fill in `call NAME` and `cap.get NAME` now that the domain's functions and imports are known.
fn resolve_calls(d: &mut Domain, pending: Vec<PendingCall>) -> PResult<()> {
    let mut funcs: HashMap<&str, u32> = HashMap::new();
    for (i, f) in d.functions.iter().enumerate() {
        funcs.entry(f.name.as_str()).or_insert(i as u32);
    }
    let mut imports: HashMap<&str, u32> = HashMap::new();
    for (i, imp) in d.imports.iter().enumerate() {
        imports.entry(imp.name.as_str()).or_insert(i as u32);
    }
    let mut globals: HashMap<&str, u32> = HashMap::new();
    for (i, g) in d.globals.iter().enumerate() {
        globals.entry(g.name.as_str()).or_insert(i as u32);
    }
    let mut fixes = Vec::with_capacity(pending.len());
    for p in &pending {
        let op = &d.functions[p.func].blocks[p.block].insts[p.inst].op;
        let (names, what) = match op {
            Op::Call { .. } | Op::RefFunc { .. } => (&funcs, "function"),
            Op::GlobalGet { .. } | Op::GlobalSet { .. } => (&globals, "global"),
            _ => (&imports, "import"),
        };
        let index = names.get(p.name.as_str()).copied().ok_or_else(|| {
            ParseError::new(
                format!("no {what} named {} in domain {}", quoted(&p.name), quoted(&d.name)),
                p.span,
            )
        })?;
        fixes.push(index);
    }
    for (p, index) in pending.iter().zip(fixes) {
        match &mut d.functions[p.func].blocks[p.block].insts[p.inst].op {
            Op::Call { func, .. } | Op::RefFunc { func } => *func = index,
            Op::CapGet { import } => *import = index,
            Op::GlobalGet { global } | Op::GlobalSet { global, .. } => *global = index,
            _ => {}
        }
    }
    Ok(())
}

/// A table or segment entry as written: a function name (resolved once the
/// domain's functions are known) or `None` for `-`, and where it was written.
type Entry<'a> = (Option<&'a str>, Span);

/// The most null entries `table externref N` may declare: the text form is for people
/// and tests, and a count must not make the parser allocate without bound.
const MAX_NULL_ENTRIES: u32 = 1 << 20;

/// The function indices of `table [...]` or `elem [...]`, now that the domain's
/// functions are known.
fn resolve_entries(d: &Domain, entries: Vec<Entry>, what: &str) -> PResult<Vec<Option<u32>>> {
    let mut funcs: HashMap<&str, u32> = HashMap::new();
    for (i, f) in d.functions.iter().enumerate() {
        funcs.entry(f.name.as_str()).or_insert(i as u32);
    }
    let mut table = Vec::with_capacity(entries.len());
    for (i, (name, span)) in entries.into_iter().enumerate() {
        let Some(name) = name else {
            table.push(None);
            continue;
        };
        let f = funcs.get(name).copied().ok_or_else(|| {
            ParseError::new(
                format!(
                    "no function named {} in domain {} ({what} entry {i})",
                    quoted(name),
                    quoted(&d.name)
                ),
                span,
            )
        })?;
        table.push(Some(f));
    }
    Ok(table)
}

fn print_num(ty: NumType) -> &'static str {
    match ty {
        NumType::I32 => "i32",
        NumType::I64 => "i64",
        NumType::F32 => "f32",
        NumType::F64 => "f64",
    }
}
