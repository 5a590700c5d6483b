//! TRUSTED. The capjit verifier: the only way to obtain a [`Verified`] module,
//! and the only kind of module the translator accepts.
//!
//! Invariant protected: everything it accepts can be translated one instruction at
//! a time into code that touches no memory outside its own domain, cannot forge a
//! capability, and cannot reach the native stack or code, whatever its inputs.
//!
//! # Rules, in the order they are checked
//!
//! Module and domains (`domain.rs`):
//! 1. `check_limits`: counts of domains, functions, imports, globals, tables,
//!    table and element segment entries, passive segments, blocks and
//!    instructions are bounded (see `limits.rs`), so
//!    verification stays linear; `check_type_limits`: every type nests at most 16
//!    capability levels and every signature has at most `MAX_ARITY` parameters or
//!    results (walked without recursion). The same limits hold for block
//!    parameters (rule 6) and the types inside instructions (rule 9), checked
//!    where those are first read, before anything compares or hashes them.
//! 2. `check_unique_names`: domain names are unique; function, import and global
//!    names are unique within their domain.
//! 3. `check_memory_layout`: initial <= maximum <= 65536 pages; data segments and
//!    the inbox lie inside the initial memory; `check_globals_and_tables`: each
//!    global's initial constant has the global's type; each table starts with at
//!    most its maximum of entries; each entry of a table or element segment is
//!    null or, in a funcref one, names a function of the domain (an externref one
//!    starts all null: only the host makes handles).
//! 4. `check_cap_not_crossing`: exported and imported signatures carry no `cap`;
//!    imported signatures carry no reference (a funcref is an index into its own
//!    domain's functions and would name another function elsewhere; an externref
//!    stays where the host gave it). An exported function may take and return
//!    references: only the host can call it with them, and the runtime refuses a
//!    funcref that names no function of the domain.
//! 5. `check_links`: an import of `D.F` names an exported function `F` of domain `D`
//!    with the identical signature; `host.restart(D)` names a domain and is `()`.
//!
//! Functions (`function.rs`), each on its own (so a module of 20,000 instructions
//! or more is split between threads in contiguous runs, whose errors and proofs
//! are put back in module order: the answer does not depend on the threads):
//! 6. the function has at least one block; its blocks' parameters are within the
//!    type limits of rule 1;
//! 7. `check_block_targets`: every branch target exists and is not the entry block;
//!    `br_table` has at most `MAX_TABLE_TARGETS` targets;
//! 8. `check_reachable`: every block is reachable from the entry (dominators are
//!    computed by Lengauer–Tarjan in `cfg.rs`);
//! Rules 9 to 13 are checked in one walk over the reachable blocks in
//! dominator-tree order (`check_block`), so that every definition a use may
//! legally name has been seen when the use is checked; a use met before any
//! definition of its value is reported at the end, as `not_dominated` if the value
//! is defined somewhere (unreachable blocks included) and `undefined_value` if not.
//! Errors are reported in the order of the text.
//! 9. `define_params`, `define_results`: every value number is below
//!    `MAX_VALUE_INDEX` and defined exactly once (block parameter or instruction
//!    result); an instruction names exactly as many results as its operation
//!    produces, and each result's type is fixed by the operation;
//! 10. `check_entry_params`: the entry block's parameters are the signature's;
//! 11. for every instruction (`check_op`):
//!     - each operand is defined earlier in the same block or in a block that
//!       dominates this one (`available`), and has the type the operation needs;
//!     - the operation is defined for its type (`iadd` on integers, `fadd` on floats,
//!       legal conversions and memory access widths; stores never sign-extend);
//!     - `call` names a function of the domain, with arguments matching its signature;
//!     - `global.get` names a global of the domain and gives its type; `global.set`
//!       names a mutable one and writes a value of its type;
//!     - `call_indirect` names a funcref table of the domain, takes an `i32` index
//!       and a signature of numbers and references only, arguments matching its
//!       parameters, and gives its results; which function runs, and that its
//!       signature is the call's, is checked at run time;
//!     - references only come from `ref.null`, `ref.func` of a function of the
//!       domain, a table of their type, or the host: no operation turns a number
//!       into one or reads one as a number (`ref.is_null` answers null or not);
//!       every `table.*` names a table of the domain and takes or gives values of
//!       its type; `table.init` names an element segment and `table.copy` a second
//!       table, of the same type; indices, sizes and lengths are `i32`;
//!     - `cap.get` names an import; a `cap` value therefore only ever comes from an
//!       import: no operation turns an integer, a load or arithmetic into a `cap`,
//!       and `store` only takes numbers, so a `cap` is never written to memory;
//! 12. for every terminator (`check_terminator`): branch arguments match the target's
//!     parameters in count and type; `brif`/`br_table` conditions are `i32`;
//!     `return` matches the signature's results; `call_cap` takes a `cap<SIG>` value,
//!     arguments matching `SIG`, an `ok` block whose parameters are `SIG`'s results
//!     and a `fail` block whose single parameter is `i32`;
//! 13. facts (`facts.rs`): a fact sits on an integer value and is well-formed (a
//!     range fits the value's width); a fact on an instruction result follows from
//!     the operation and its operands' facts (constants, `iadd`, `isub`, `imul`,
//!     `band`, `bor`, `bxor`, shifts by constants, `udiv`, `urem`, extensions, narrow
//!     loads, comparisons, `select`, `memory.size`); a fact on a block parameter
//!     follows from the argument on every incoming edge, refined by the `icmp` that
//!     decides a `brif` edge; `lt(vN)` needs `vN` defined before on every path; facts
//!     on values from outside the function (entry parameters, `call_cap` results)
//!     must be trivially true.
//! 14. memory accesses (`load`, `store`, `memory.copy`, `memory.fill`): proven in
//!     bounds when, for every value the address may hold (by its facts), the whole
//!     access lies in the *initial* memory (memory never shrinks while code runs);
//!     all arithmetic is in 64 or 128 bits, so offsets never wrap. Every access not
//!     proven is marked for a runtime check, which the translator must emit.
//!
//! # Checked at run time instead
//! - Region handles: a region used after it was freed or transferred traps with
//!   `region_invalid` (the runtime checks owner and generation on every use); the
//!   verifier does not track region liveness.
//! - Capability liveness (revocation, faulted or dead targets): checked at each
//!   `call_cap`.
//! - Host imports (`host.NAME`): bound and signature-checked by the runtime at link.
//! - Division by zero, overflow, conversions, fuel and call depth: trapping checks.
//! - `call_indirect`: the index lies in the table, the entry is not null, and the
//!   function's signature equals the call's (`table_out_of_bounds`,
//!   `indirect_call_null`, `indirect_call_type`); every other table access lies in
//!   its table and segment (`table_out_of_bounds`); `table.grow` stays within the
//!   table's maximum, the limits and the instance's budget (else -1).
//!
//! # Not checked yet
//! - Facts relating a value to the *current* memory size (beyond the initial size):
//!   accesses into grown memory are always checked at run time.
//! - Signed comparisons do not refine ranges; `br_table` edges do not refine the index.
//! - Facts are not inferred: an unannotated value is only known by its type (or its
//!   constant), so the producer must annotate what it wants proven.

mod cfg;
mod domain;
pub mod error;
mod facts;
mod function;
pub mod limits;
mod types;

/// The rules facts are checked with: a result's range from its operands' ranges
/// (`derive`), what a branch's condition tells about an argument on each edge
/// (`refine`), and what a value's own claim or constant says of it (`range_of`,
/// read through [`rules::Claims`]). Producers of facts (the optimiser) and the
/// soundness test compute with these, so that what they claim is what the verifier
/// derives: no copy of a rule lives outside the verifier.
pub mod rules {
    pub use crate::facts::{
        derive, derive_binary, max_of, range_of, refine, shallow_lo, Claimed, Claims, EdgeCondition, Operands, Range,
    };
}

pub use error::{ErrorKind, Location, Site, VerifyError};
pub use function::Counts;

use capjit_ir::{Domain, Function, Module};

use domain::Report;
use function::{verify_function, AccessProofs, Scratch};

/// A module the verifier accepted. Only this crate can construct one.
#[derive(Debug)]
pub struct Verified<T> {
    inner: T,
    /// `proofs[domain][function][block][inst]`: that memory access is proven in bounds.
    proofs: Proofs,
    counts: Counts,
}

impl Verified<Module> {
    pub fn module(&self) -> &Module {
        &self.inner
    }

    /// Whether the memory access at this position was proven in bounds, so that
    /// its runtime check may be left out. Anything else answers `false`.
    pub fn access_proven(&self, domain: usize, func: usize, block: usize, inst: usize) -> bool {
        self.proofs
            .get(domain)
            .and_then(|d| d.get(func))
            .is_some_and(|f| f.get(block, inst))
    }

    /// Instruction and memory-access counts.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn into_inner(self) -> Module {
        self.inner
    }
}

/// Check every rule; return the module as `Verified`, or every error found.
pub fn verify(m: &Module) -> Result<Verified<Module>, Vec<VerifyError>> {
    let (proofs, counts) = check(m, default_threads())?;
    Ok(Verified {
        inner: m.clone(),
        proofs,
        counts,
    })
}

/// Like [`verify`], taking the module instead of copying it.
pub fn verify_owned(m: Module) -> Result<Verified<Module>, Vec<VerifyError>> {
    verify_owned_on(m, default_threads())
}

/// Like [`verify_owned`], on at most `threads` threads (at least one). The result
/// does not depend on how many: functions are checked independently, and their
/// errors and proofs are put back in module order.
pub fn verify_owned_on(m: Module, threads: usize) -> Result<Verified<Module>, Vec<VerifyError>> {
    let (proofs, counts) = check(&m, threads)?;
    Ok(Verified {
        inner: m,
        proofs,
        counts,
    })
}

type Proofs = Vec<Vec<AccessProofs>>;

/// Modules with fewer instructions are checked on the calling thread: below
/// this, starting threads costs more than it saves.
const PARALLEL_FROM: usize = 20_000;

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

fn check(m: &Module, threads: usize) -> Result<(Proofs, Counts), Vec<VerifyError>> {
    let mut report = Report { errors: Vec::new() };
    if !domain::check_limits(m, &mut report) {
        return Err(report.errors);
    }
    domain::check_unique_names(m, &mut report);
    let exports = domain::ExportIndex::new(m);
    for d in &m.domains {
        domain::check_memory_layout(d, &mut report);
        domain::check_globals_and_tables(d, &mut report);
        domain::check_cap_not_crossing(d, &mut report);
        domain::check_links(&exports, d, &mut report);
    }
    let (flat, counts) = check_functions(m, threads, &mut report);
    if !report.errors.is_empty() {
        return Err(report.errors);
    }
    let mut flat = flat.into_iter();
    let proofs = m
        .domains
        .iter()
        .map(|d| flat.by_ref().take(d.functions.len()).collect())
        .collect();
    Ok((proofs, counts))
}

/// Every function's rules (`function.rs`), in contiguous runs of equally many
/// functions on up to `threads` threads; the access proofs of every function in
/// module order. How the runs are cut changes only the speed.
fn check_functions(m: &Module, threads: usize, report: &mut Report) -> (Vec<AccessProofs>, Counts) {
    let functions: Vec<(&Domain, &Function)> = m
        .domains
        .iter()
        .flat_map(|d| d.functions.iter().map(move |f| (d, f)))
        .collect();
    let instructions: usize = functions
        .iter()
        .map(|(_, f)| f.blocks.iter().map(|b| b.insts.len()).sum::<usize>())
        .sum();
    let threads = if instructions < PARALLEL_FROM { 1 } else { threads };
    let runs: Vec<_> = functions
        .chunks(functions.len().div_ceil(threads.max(1)).max(1))
        .collect();
    let check_run = |run: &[(&Domain, &Function)]| {
        let (mut scratch, mut counts) = (Scratch::default(), Counts::default());
        let mut report = Report { errors: Vec::new() };
        let proofs: Vec<AccessProofs> = run
            .iter()
            .map(|(d, f)| verify_function(d, f, &mut scratch, &mut report, &mut counts))
            .collect();
        (proofs, report, counts)
    };
    let results: Vec<_> = if runs.len() <= 1 {
        runs.iter().map(|run| check_run(run)).collect()
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = runs.iter().map(|run| s.spawn(|| check_run(run))).collect();
            let joined = handles.into_iter().map(|h| h.join());
            joined
                .map(|r| r.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    };
    let mut counts = Counts::default();
    let mut proofs = Vec::with_capacity(functions.len());
    for (run_proofs, run_report, run_counts) in results {
        proofs.extend(run_proofs);
        report.errors.extend(run_report.errors);
        counts.add(run_counts);
    }
    (proofs, counts)
}
