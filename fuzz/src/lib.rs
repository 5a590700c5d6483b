//! Helpers shared by the fuzz targets: span stripping for round-trip comparisons,
//! the structured module generator of `verify_structured`, the checks it runs
//! on a verified module with the reference interpreter, and the Wasm differential
//! check of `wasm_diff`.

pub mod gen;
pub mod oracle;
pub mod wasm_diff;

use capjit_ir::Module;

/// Clear every source span, so that a module parsed from text compares equal to one
/// built or parsed elsewhere.
pub fn strip_spans(m: &mut Module) {
    for d in &mut m.domains {
        d.span = None;
        for i in &mut d.imports {
            i.span = None;
        }
        for g in &mut d.globals {
            g.span = None;
        }
        for f in &mut d.functions {
            f.span = None;
            for b in &mut f.blocks {
                b.term_span = None;
                for inst in &mut b.insts {
                    inst.span = None;
                }
            }
        }
    }
}
