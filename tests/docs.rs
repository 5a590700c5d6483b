//! Every full program in `docs/ir.md` passes the verifier, runs in the reference
//! interpreter and gives what its header says.
//!
//! Fenced code blocks tagged `cir` are whole programs; blocks tagged `text` are
//! grammar or snippets and are skipped. A `cir` block starts with a header of
//! comment lines:
//!
//! ```text
//! ; expect: i64:40 i32:10   (required: the results, in `Val` Display form; empty = none)
//! ; invoke: app.main        (default: the unique exported `main`)
//! ; stdout: text            (repeatable: the exact output lines; none = prints nothing)
//! ; faulted: careless       (the domains faulted at the end; absent = none)
//! ; fuel: 21                (fuel per domain; default `Limits::default()`)
//! ```
//!
//! Failures name the line of the block's opening fence in `docs/ir.md`.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use capjit::ir::interp::{Instance, Limits};
use capjit::ir::{parse_module, Module};

const DOC: &str = include_str!("../docs/ir.md");
const DOC_PATH: &str = "docs/ir.md";

/// A fenced code block: its info string's first word, the 1-based line of its
/// opening fence, and its contents.
#[derive(Debug)]
struct Fenced {
    tag: String,
    line: usize,
    text: String,
}

fn fenced_blocks(md: &str) -> Result<Vec<Fenced>, String> {
    let mut blocks = Vec::new();
    let mut open: Option<Fenced> = None;
    for (i, line) in md.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some(Fenced {
                        tag: info.split_whitespace().next().unwrap_or("").to_string(),
                        line: i + 1,
                        text: String::new(),
                    });
                }
            }
            Some(mut block) => {
                if trimmed.starts_with("```") {
                    blocks.push(block);
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                    open = Some(block);
                }
            }
        }
    }
    match open {
        Some(block) => Err(format!("{DOC_PATH}:{}: code block is never closed", block.line)),
        None => Ok(blocks),
    }
}

#[derive(Default)]
struct Header {
    expect: Option<String>,
    invoke: Option<String>,
    stdout: Vec<String>,
    faulted: Option<Vec<String>>,
    fuel: Option<u64>,
}

/// Read the `; key: value` lines at the top of a program (up to its first line
/// that is not a comment). Other comments are free text.
fn header(text: &str) -> Result<Header, String> {
    let mut h = Header::default();
    for line in text.lines() {
        let Some(comment) = line.trim().strip_prefix(';') else {
            break;
        };
        let comment = comment.trim();
        let (key, value) = match comment.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => continue,
        };
        match key {
            "expect" => h.expect = Some(value.split_whitespace().collect::<Vec<_>>().join(" ")),
            "invoke" => h.invoke = Some(value.to_string()),
            "stdout" => h.stdout.push(value.to_string()),
            "faulted" => h.faulted = Some(value.split_whitespace().map(str::to_string).collect()),
            "fuel" => h.fuel = Some(value.parse().map_err(|_| format!("bad `; fuel:` value `{value}`"))?),
            _ => {}
        }
    }
    Ok(h)
}

/// `DOMAIN.FUNC` from `; invoke:`, or the one domain exporting `main`.
fn entry(m: &Module, invoke: Option<&str>) -> Result<(String, String), String> {
    if let Some(inv) = invoke {
        return inv
            .split_once('.')
            .map(|(d, f)| (d.to_string(), f.to_string()))
            .ok_or_else(|| format!("`; invoke: {inv}` is not DOMAIN.FUNC"));
    }
    let owners: Vec<&str> = m
        .domains
        .iter()
        .filter(|d| d.functions.iter().any(|f| f.exported && f.name == "main"))
        .map(|d| d.name.as_str())
        .collect();
    match owners.as_slice() {
        [one] => Ok((one.to_string(), "main".to_string())),
        _ => Err(format!(
            "{} domains export `main`; name the entry with `; invoke:`",
            owners.len()
        )),
    }
}

/// Output of the host print functions, shared with the test.
#[derive(Clone, Default)]
struct Captured(Rc<RefCell<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parse, verify and run one `cir` block and compare with its header.
fn check_program(text: &str) -> Result<(), String> {
    let h = header(text)?;
    let Some(expect) = h.expect else {
        return Err("no `; expect:` header".to_string());
    };
    let module = parse_module(text).map_err(|e| {
        let (line, col) = e.line_col(text);
        format!("parse error at block line {line}, column {col}: {e}")
    })?;
    if let Err(errors) = capjit::verifier::verify(&module) {
        let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        return Err(format!("rejected by the verifier: {}", list.join("; ")));
    }
    let (domain, func) = entry(&module, h.invoke.as_deref())?;
    let domains: Vec<String> = module.domains.iter().map(|d| d.name.clone()).collect();
    let mut limits = Limits::default();
    if let Some(fuel) = h.fuel {
        limits.fuel = fuel;
    }
    let out = Captured::default();
    let mut instance = Instance::new(module, limits, Box::new(out.clone())).map_err(|e| e.to_string())?;
    let vals = instance
        .invoke(&domain, &func, &[])
        .map_err(|e| format!("`{domain}.{func}` failed: {e}"))?;
    let got = vals.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" ");
    if got != expect {
        return Err(format!("`{domain}.{func}` returned `{got}`, expected `{expect}`"));
    }
    let printed = String::from_utf8_lossy(&out.0.borrow()).into_owned();
    let lines: Vec<&str> = printed.lines().collect();
    if lines != h.stdout {
        return Err(format!("printed {lines:?}, expected {:?}", h.stdout));
    }
    let faulted: Vec<&String> = domains
        .iter()
        .filter(|d| instance.status(d) == Some(capjit::ir::interp::DomainStatus::Faulted))
        .collect();
    let want: Vec<&String> = h.faulted.as_ref().map(|f| f.iter().collect()).unwrap_or_default();
    if faulted != want {
        return Err(format!("faulted domains at the end: {faulted:?}, expected {want:?}"));
    }
    Ok(())
}

#[test]
fn every_cir_block_in_the_reference_runs_as_its_header_says() {
    let blocks = fenced_blocks(DOC).unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut ran = 0;
    for block in &blocks {
        match block.tag.as_str() {
            "cir" => {
                ran += 1;
                if let Err(e) = check_program(&block.text) {
                    failures.push(format!("{DOC_PATH}:{}: {e}", block.line));
                }
            }
            "text" => {}
            other => failures.push(format!(
                "{DOC_PATH}:{}: code block tagged `{other}`; tag it `cir` (a program that runs) or `text` (skipped)",
                block.line
            )),
        }
    }
    assert!(ran >= 4, "only {ran} `cir` blocks found in {DOC_PATH}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_header_reader_and_checker_catch_mistakes() {
    let prog = "; expect: i32:7\ndomain a {\n  export func main() -> i32 {\n  block0:\n    v0 = iconst.i32 7\n    return v0\n  }\n}\n";
    assert_eq!(check_program(prog), Ok(()));
    let wrong = prog.replace("i32:7", "i32:8");
    assert!(check_program(&wrong).unwrap_err().contains("expected `i32:8`"));
    let chatty = prog.replace("; expect: i32:7\n", "; expect: i32:7\n; stdout: hi\n");
    assert!(check_program(&chatty).unwrap_err().contains("printed"));
    let ill_typed = prog.replace("return v0", "v1 = iconst.i64 1\n    return v1");
    assert!(check_program(&ill_typed).unwrap_err().contains("verifier"));
    let headless = prog.replace("; expect: i32:7\n", "");
    assert!(check_program(&headless).unwrap_err().contains("no `; expect:`"));

    let md = "a\n```cir\nx\n```\n\n```text\ny\n```\n```\n";
    assert!(fenced_blocks(md).unwrap_err().contains(":9:"));
    let md = "a\n```cir\nx\n```\n\n  ```text\ny\n  ```\n";
    let blocks = fenced_blocks(md).expect("closed");
    let found: Vec<(&str, usize, &str)> = blocks
        .iter()
        .map(|b| (b.tag.as_str(), b.line, b.text.as_str()))
        .collect();
    assert_eq!(found, [("cir", 2, "x\n"), ("text", 6, "y\n")]);
}
