//! Size limits, so that hostile input cannot make verification slow or huge.
//! Every later pass relies on them: scratch tables are sized by `MAX_VALUE_INDEX`.

/// Domains in a module.
pub const MAX_DOMAINS: usize = 10_000;
/// Functions in a domain.
pub const MAX_FUNCTIONS: usize = 100_000;
/// Imports of a domain.
pub const MAX_IMPORTS: usize = 100_000;
/// Globals of a domain.
pub const MAX_GLOBALS: usize = 65_536;
/// Entries of a domain's function table.
pub const MAX_TABLE_ENTRIES: usize = 1 << 20;
/// Passive data segments of a domain.
pub const MAX_PASSIVE_DATA: usize = 100_000;
/// Tables and passive element segments of one domain.
pub const MAX_TABLES: usize = 10_000;
pub const MAX_PASSIVE_ELEMS: usize = 100_000;
/// Blocks in a function.
pub const MAX_BLOCKS: usize = 1_000_000;
/// Instructions (terminators included) in a whole module.
pub const MAX_INSTRUCTIONS: usize = 16_000_000;
/// Parameters or results of a signature, parameters of a block, arguments of a call or branch.
pub const MAX_ARITY: usize = 1_000;
/// Levels of `cap<...>` nesting in a type (`cap<(cap<()>)>` is 2 deep).
pub const MAX_TYPE_DEPTH: usize = 16;
/// Targets of one `br_table`.
pub const MAX_TABLE_TARGETS: usize = 65_536;
/// Value numbers in a function must be below this (`v0` .. `v4194303`).
pub const MAX_VALUE_INDEX: u32 = 1 << 22;
/// Pages of linear memory (4 GiB, the whole 32-bit address space).
pub const MAX_MEMORY_PAGES: u32 = 65_536;
/// Bytes of data segments (active and passive) in one domain.
pub const MAX_DATA_BYTES: usize = 1 << 30;

use capjit_ir::{Signature, Type};

use crate::error::ErrorKind;

/// `LimitExceeded` when `found > max`.
pub fn over(what: &'static str, found: usize, max: usize) -> Option<ErrorKind> {
    (found > max).then_some(ErrorKind::LimitExceeded {
        what,
        limit: max as u64,
        found: found as u64,
    })
}

/// A type nesting more than `MAX_TYPE_DEPTH` capability levels, or holding a
/// signature wider than `MAX_ARITY`; walked without recursion so that a hostile
/// type cannot exhaust the stack. Checked before anything compares or hashes it.
pub fn type_over(t: &Type) -> Option<ErrorKind> {
    let Type::Cap(_) = t else { return None };
    let (mut depth, mut widest) = (0, 0);
    let mut stack = vec![(t, 0usize)];
    while let Some((t, outer)) = stack.pop() {
        if let Type::Cap(sig) = t {
            let d = outer + 1;
            depth = depth.max(d);
            widest = widest.max(sig.params.len()).max(sig.results.len());
            if d <= MAX_TYPE_DEPTH {
                stack.extend(sig.params.iter().chain(&sig.results).map(|t| (t, d)));
            }
        }
    }
    over("levels of nested capability types", depth, MAX_TYPE_DEPTH)
        .or_else(|| over("parameters or results of a capability type", widest, MAX_ARITY))
}

/// The first limit a list of types exceeds: its length, then each type.
pub fn types_over<'t>(what: &'static str, mut types: impl ExactSizeIterator<Item = &'t Type>) -> Option<ErrorKind> {
    over(what, types.len(), MAX_ARITY).or_else(|| types.find_map(type_over))
}

/// The first limit a signature exceeds.
pub fn signature_over(sig: &Signature) -> Option<ErrorKind> {
    types_over("parameters of a signature", sig.params.iter())
        .or_else(|| types_over("results of a signature", sig.results.iter()))
}
