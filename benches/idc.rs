//! The inter-domain call figures alone (`idc/mod.rs` says what each one is).
//!
//! Run: `cargo bench --bench idc` (add `-- --quick` for a run of a few seconds).
//! Prints a table and merges its keys into `target/headline.json` (a flat JSON
//! object of numbers, also written by the headline bench): other keys are kept,
//! these are added or overwritten.

#[path = "idc/mod.rs"]
mod idc;

use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() {
    idc::serve_echo_if_asked();
    let quick = std::env::args().any(|a| a == "--quick");
    let started = Instant::now();
    let figures = idc::measure(quick);
    println!("inter-domain calls (JIT; median of repetitions, timed inside the IR)\n");
    print!("{}", idc::table(&figures));
    println!("\nidc bench took {:.1} s", started.elapsed().as_secs_f64());

    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let path = dir.join("headline.json");
    match merge_into(&path, &figures) {
        Ok(()) => println!("merged {} keys into {}", figures.len(), path.display()),
        Err(e) => eprintln!("cannot update {}: {e}", path.display()),
    }
}

/// Add or overwrite `figures` in the flat JSON object at `path` (created if
/// missing). A file that is not a flat object of scalars is left alone.
fn merge_into(path: &Path, figures: &[(String, f64)]) -> Result<(), String> {
    let mut entries = match std::fs::read_to_string(path) {
        Ok(text) => parse_flat(&text).map_err(|e| format!("not a flat JSON object ({e}); left as it is"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    for (k, v) in figures {
        if !v.is_finite() {
            return Err(format!("`{k}` is not finite ({v})"));
        }
        let value = format!("{v}");
        match entries.iter_mut().find(|(key, _)| key == k) {
            Some(entry) => entry.1 = value,
            None => entries.push((k.clone(), value)),
        }
    }
    let mut out = String::from("{\n");
    for (i, (k, v)) in entries.iter().enumerate() {
        let sep = if i + 1 < entries.len() { "," } else { "" };
        out.push_str(&format!("  {}: {v}{sep}\n", quote(k)));
    }
    out.push_str("}\n");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, out).map_err(|e| e.to_string())
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// The entries of a flat JSON object: keys decoded, values kept as their raw text
/// (numbers, strings, `true`, `false`, `null`; nested values are refused).
fn parse_flat(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut entries = Vec::new();
    p.expect(b'{')?;
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            let key = p.string()?;
            p.expect(b':')?;
            let value = p.scalar()?;
            entries.push((key, value));
            match p.next() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(format!("expected `,` or `}}` at byte {}", p.i)),
            }
        }
    }
    if p.peek().is_some() {
        return Err(format!("trailing text at byte {}", p.i));
    }
    Ok(entries)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.next() {
            Some(x) if x == c => Ok(()),
            _ => Err(format!("expected `{}` at byte {}", c as char, self.i)),
        }
    }

    /// A string, decoded (escapes `\"`, `\\`, `\/`, `\n`, `\t`, `\r`, `\b`, `\f`,
    /// `\uXXXX` outside surrogates).
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        let start = self.i;
        loop {
            let rest = std::str::from_utf8(&self.s[self.i..]).map_err(|e| e.to_string())?;
            let mut chars = rest.chars();
            let c = chars
                .next()
                .ok_or_else(|| format!("unterminated string from byte {start}"))?;
            self.i += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = chars.next().ok_or("unterminated escape")?;
                    self.i += 1;
                    out.push(match e {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
                            let code = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                            self.i += 4;
                            char::from_u32(code).ok_or("\\u escape of a surrogate")?
                        }
                        other => return Err(format!("unknown escape `\\{other}`")),
                    });
                }
                c => out.push(c),
            }
        }
    }

    /// The raw text of a scalar value.
    fn scalar(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(b'"') => {
                let start = self.i;
                self.string()?;
                Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            Some(b'{' | b'[') => Err(format!("nested value at byte {}", self.i)),
            Some(_) => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                {
                    self.i += 1;
                }
                let raw = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                if matches!(raw, "true" | "false" | "null") || raw.parse::<f64>().is_ok_and(f64::is_finite) {
                    Ok(raw.to_string())
                } else {
                    Err(format!("bad value `{raw}` at byte {start}"))
                }
            }
            None => Err("unexpected end".into()),
        }
    }
}
