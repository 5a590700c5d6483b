//! Module- and domain-level rules: counts, unique names, memory layout, links
//! between imports and exports, and capabilities never crossing a boundary.
//!
//! Invariant protected: after these checks the translator and runtime can index
//! domains, functions and imports by name without ambiguity, every memory image
//! fits its memory, and every inter-domain signature carries only data.

use std::collections::HashMap;

use capjit_ir::{Domain, Function, ImportSource, Module, RefType, Signature, Type, PAGE_SIZE};

use crate::error::{ErrorKind, Location, VerifyError};
use crate::limits::*;

/// Collects errors; each check reports and carries on.
pub struct Report {
    pub errors: Vec<VerifyError>,
}

impl Report {
    pub fn push(&mut self, location: Location, kind: ErrorKind) {
        self.errors.push(VerifyError { location, kind });
    }
}

fn at_domain(d: &Domain) -> Location {
    Location {
        domain: d.name.clone(),
        span: d.span,
        ..Location::default()
    }
}

/// Where an error about function `f` of domain `d` points.
fn at_function(d: &Domain, f: &Function) -> Location {
    Location {
        function: Some(f.name.clone()),
        span: f.span.or(d.span),
        ..at_domain(d)
    }
}

/// Reports `error`, if any, at `loc()` (built only then: this runs for every
/// function and block of the module); whether there was none.
fn within(report: &mut Report, loc: impl FnOnce() -> Location, error: Option<ErrorKind>) -> bool {
    match error {
        Some(kind) => {
            report.push(loc(), kind);
            false
        }
        None => true,
    }
}

/// Whether `found <= max`; if not, reports it at `loc()`.
fn limit(report: &mut Report, loc: impl FnOnce() -> Location, what: &'static str, found: usize, max: usize) -> bool {
    within(report, loc, over(what, found, max))
}

/// Types are at most `MAX_TYPE_DEPTH` deep and signatures at most `MAX_ARITY`
/// wide, so comparing, copying and printing them stays cheap and shallow. Block
/// parameters are checked as each function's verification starts, and the types
/// inside instructions as its values are defined, before anything compares them.
fn check_type_limits(m: &Module, report: &mut Report) -> bool {
    for d in &m.domains {
        for imp in &d.imports {
            let loc = || Location {
                span: imp.span,
                ..at_domain(d)
            };
            if !within(report, loc, signature_over(&imp.sig)) {
                return false;
            }
        }
        for f in &d.functions {
            if !within(report, || at_function(d, f), signature_over(&f.sig)) {
                return false;
            }
        }
    }
    true
}

/// Counts that bound the work of every later pass. Returns false when the module
/// is too big to look at further.
pub fn check_limits(m: &Module, report: &mut Report) -> bool {
    let mut ok = limit(report, Location::default, "domains", m.domains.len(), MAX_DOMAINS);
    let mut insts = 0usize;
    for d in &m.domains {
        ok &= limit(report, || at_domain(d), "functions", d.functions.len(), MAX_FUNCTIONS);
        ok &= limit(report, || at_domain(d), "imports", d.imports.len(), MAX_IMPORTS);
        ok &= limit(report, || at_domain(d), "globals", d.globals.len(), MAX_GLOBALS);
        ok &= limit(report, || at_domain(d), "tables", d.tables.len(), MAX_TABLES);
        let entries = d.tables.iter().map(|t| t.init.len());
        let items = d.passive_elems.iter().map(|s| s.items.len());
        ok &= limit(
            report,
            || at_domain(d),
            "table and element segment entries",
            entries.chain(items).fold(0usize, usize::saturating_add),
            MAX_TABLE_ENTRIES,
        );
        ok &= limit(
            report,
            || at_domain(d),
            "passive element segments",
            d.passive_elems.len(),
            MAX_PASSIVE_ELEMS,
        );
        ok &= limit(
            report,
            || at_domain(d),
            "passive data segments",
            d.passive_data.len(),
            MAX_PASSIVE_DATA,
        );
        for f in &d.functions {
            ok &= limit(report, || at_function(d, f), "blocks", f.blocks.len(), MAX_BLOCKS);
            insts = insts.saturating_add(f.blocks.iter().map(|b| b.insts.len() + 1).sum::<usize>());
        }
    }
    ok &= limit(report, Location::default, "instructions", insts, MAX_INSTRUCTIONS);
    ok && check_type_limits(m, report)
}

fn check_unique<'a>(report: &mut Report, loc: &Location, what: &'static str, names: impl Iterator<Item = &'a str>) {
    let mut seen = HashMap::new();
    for name in names {
        if seen.insert(name, ()).is_some() {
            report.push(
                loc.clone(),
                ErrorKind::DuplicateName {
                    what,
                    name: name.to_string(),
                },
            );
        }
    }
}

/// Domain names are unique in the module; function and import names in their domain.
pub fn check_unique_names(m: &Module, report: &mut Report) {
    check_unique(
        report,
        &Location::default(),
        "domain",
        m.domains.iter().map(|d| d.name.as_str()),
    );
    for d in &m.domains {
        let loc = at_domain(d);
        check_unique(report, &loc, "function", d.functions.iter().map(|f| f.name.as_str()));
        check_unique(report, &loc, "import", d.imports.iter().map(|i| i.name.as_str()));
        check_unique(report, &loc, "global", d.globals.iter().map(|g| g.name.as_str()));
    }
}

/// Each global starts with a constant of its type; each table starts within its
/// maximum; each entry of a table or element segment is null or, in a funcref one,
/// names a function of the domain.
pub fn check_globals_and_tables(d: &Domain, report: &mut Report) {
    for g in d.globals.iter().filter(|g| g.init.num_type() != g.ty) {
        let kind = ErrorKind::TypeMismatch {
            what: format!("the initial value of global `{}`", g.name),
            expected: g.ty.to_string(),
            found: g.init.num_type().to_string(),
        };
        report.push(
            Location {
                span: g.span,
                ..at_domain(d)
            },
            kind,
        );
    }
    for (i, t) in d.tables.iter().enumerate() {
        if t.init.len() > t.maximum as usize {
            let why = format!(
                "starts with {} entries, over its maximum of {}",
                t.init.len(),
                t.maximum
            );
            let kind = ErrorKind::BadTableEntry {
                what: format!("table #{i}"),
                entry: t.maximum as usize,
                why,
            };
            report.push(at_domain(d), kind);
        }
        check_entries(d, &format!("table #{i}"), t.elem, &t.init, report);
    }
    for (i, seg) in d.passive_elems.iter().enumerate() {
        check_entries(d, &format!("element segment #{i}"), seg.elem, &seg.items, report);
    }
}

fn check_entries(d: &Domain, what: &str, elem: RefType, entries: &[Option<u32>], report: &mut Report) {
    for (entry, &func) in entries.iter().enumerate() {
        let why = match (elem, func) {
            (_, None) => continue,
            (RefType::Func, Some(f)) if (f as usize) < d.functions.len() => continue,
            (RefType::Func, Some(f)) => format!("names function #{f}, which does not exist in this domain"),
            (RefType::Extern, Some(_)) => "is not null: an externref entry starts null".to_string(),
        };
        let what = what.to_string();
        report.push(at_domain(d), ErrorKind::BadTableEntry { what, entry, why });
    }
}

/// Memory sizes are ordered and within 4 GiB; data segments and the inbox lie inside
/// the initial memory (which never shrinks).
pub fn check_memory_layout(d: &Domain, report: &mut Report) {
    let mem = d.memory;
    let mut bad = |msg: String| report.push(at_domain(d), ErrorKind::BadMemory(msg));
    if mem.initial > mem.maximum {
        bad(format!(
            "initial size {} pages exceeds maximum {}",
            mem.initial, mem.maximum
        ));
    }
    if mem.maximum > MAX_MEMORY_PAGES {
        bad(format!(
            "maximum {} pages exceeds the limit of {MAX_MEMORY_PAGES}",
            mem.maximum
        ));
    }
    let size = mem.initial as u64 * PAGE_SIZE;
    let mut data_bytes = d.passive_data.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
    for seg in &d.data {
        data_bytes = data_bytes.saturating_add(seg.bytes.len());
        let end = seg.offset as u64 + seg.bytes.len() as u64;
        if end > size {
            bad(format!(
                "data segment [{}, {end}) lies outside the initial memory of {size} bytes",
                seg.offset
            ));
        }
    }
    if data_bytes > MAX_DATA_BYTES {
        bad(format!(
            "{data_bytes} bytes of data segments exceed the limit of {MAX_DATA_BYTES}"
        ));
    }
    if let Some(inbox) = d.inbox {
        let end = inbox.offset as u64 + inbox.size as u64;
        if end > size {
            bad(format!(
                "inbox [{}, {end}) lies outside the initial memory of {size} bytes",
                inbox.offset
            ));
        }
    }
}

fn has_cap(sig: &Signature) -> bool {
    sig.params.iter().chain(&sig.results).any(|t| matches!(t, Type::Cap(_)))
}

fn has_ref(sig: &Signature) -> bool {
    sig.params.iter().chain(&sig.results).any(|t| t.ref_type().is_some())
}

/// Exports and imports carry only data: a capability never leaves its domain. A
/// reference never does either: no import (so no inter-domain call, and no host
/// function) carries one; an exported function may, for the host alone, which can
/// call it with the references it was given or null.
pub fn check_cap_not_crossing(d: &Domain, report: &mut Report) {
    for f in d.functions.iter().filter(|f| f.exported && has_cap(&f.sig)) {
        report.push(
            Location {
                function: Some(f.name.clone()),
                span: f.span,
                ..at_domain(d)
            },
            ErrorKind::CapCrossesDomains(format!("exported function `{}`", f.name)),
        );
    }
    for imp in &d.imports {
        let loc = || Location {
            span: imp.span,
            ..at_domain(d)
        };
        let what = || format!("import `{}`", imp.name);
        if has_cap(&imp.sig) {
            report.push(loc(), ErrorKind::CapCrossesDomains(what()));
        }
        if has_ref(&imp.sig) {
            report.push(loc(), ErrorKind::RefCrossesDomains(what()));
        }
    }
}

/// Exported functions by (domain, function) name, and domain names, for linking.
pub struct ExportIndex<'m> {
    exports: HashMap<(&'m str, &'m str), &'m Signature>,
    domains: HashMap<&'m str, ()>,
}

impl<'m> ExportIndex<'m> {
    pub fn new(m: &'m Module) -> Self {
        let mut exports = HashMap::new();
        let mut domains = HashMap::new();
        for d in &m.domains {
            domains.insert(d.name.as_str(), ());
            for f in d.functions.iter().filter(|f| f.exported) {
                exports.entry((d.name.as_str(), f.name.as_str())).or_insert(&f.sig);
            }
        }
        ExportIndex { exports, domains }
    }
}

/// Every import of another domain's export names an exported function with the
/// same signature; every restart capability names an existing domain and is `()`.
/// Host functions are bound (name and signature) by the runtime at link time.
pub fn check_links(index: &ExportIndex, d: &Domain, report: &mut Report) {
    for imp in &d.imports {
        let loc = Location {
            span: imp.span,
            ..at_domain(d)
        };
        match &imp.source {
            ImportSource::Export { domain, function } => {
                let target = format!("export `{domain}.{function}`");
                let found = index.exports.get(&(domain.as_str(), function.as_str()));
                match found {
                    None => report.push(
                        loc,
                        ErrorKind::LinkMissing {
                            import: imp.name.clone(),
                            target,
                        },
                    ),
                    Some(sig) if **sig != imp.sig => report.push(
                        loc,
                        ErrorKind::LinkSignatureMismatch {
                            import: imp.name.clone(),
                            target,
                            expected: imp.sig.to_string(),
                            found: sig.to_string(),
                        },
                    ),
                    Some(_) => {}
                }
            }
            ImportSource::Restart { domain } => {
                if !index.domains.contains_key(domain.as_str()) {
                    report.push(
                        loc.clone(),
                        ErrorKind::LinkMissing {
                            import: imp.name.clone(),
                            target: format!("domain `{domain}`"),
                        },
                    );
                }
                if imp.sig != Signature::default() {
                    report.push(
                        loc,
                        ErrorKind::LinkSignatureMismatch {
                            import: imp.name.clone(),
                            target: format!("restart of `{domain}`"),
                            expected: imp.sig.to_string(),
                            found: Signature::default().to_string(),
                        },
                    );
                }
            }
            ImportSource::File { name } => {
                let want = Signature {
                    params: vec![Type::Buf],
                    results: vec![Type::I32],
                };
                if imp.sig != want {
                    report.push(
                        loc,
                        ErrorKind::LinkSignatureMismatch {
                            import: imp.name.clone(),
                            target: format!("granted file `{name}`"),
                            expected: imp.sig.to_string(),
                            found: want.to_string(),
                        },
                    );
                }
            }
            ImportSource::Host { .. } => {}
        }
    }
}
