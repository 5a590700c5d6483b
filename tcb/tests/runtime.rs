//! The runtime driven the way generated code and the host drive it, without any
//! generated code: helpers called through a domain's context pointer, the host's
//! restart and kill, budgets. Small enough for Miri (`cargo +nightly miri test -p
//! capjit-tcb` with Tree Borrows, as `.ci/run` does), which checks the raw-pointer
//! paths between the runtime, the contexts and the helpers.

use capjit_ir::exec::{DomainStatus, Limits};
use capjit_ir::resources::TABLE_ENTRY_BYTES;
use capjit_ir::{parse_module, TrapCode, PAGE_SIZE};
use capjit_tcb::ctx::{DomainCtx, REF_NULL};
use capjit_tcb::helpers::*;
use capjit_tcb::{CodeTable, Runtime, Shared};

const SRC: &str = r#"
domain a {
  memory 1 4
  data 8 "\01\02\03\04"
  export func f() {
  block0:
    return
  }
}
domain b {
  memory 0 2
  export func g() {
  block0:
    return
  }
}"#;

const PAGE: usize = PAGE_SIZE as usize;

/// Call a helper (or the runtime half of `call_cap`) as generated code does.
macro_rules! from_code {
    ($call:expr) => {{
        // SAFETY: every call in these tests passes a live context of a live runtime
        // (and, for `call_cap`, a slot array of the import's size), with nothing else
        // borrowed from the runtime, as generated code does.
        unsafe { $call }
    }};
}

fn limits() -> Limits {
    Limits {
        max_instance_bytes: 3 * PAGE_SIZE + 100,
        max_region_bytes: 64,
        ..Limits::default()
    }
}

/// A runtime for `src` (two domains of one function each, no tables) without any
/// generated code: nothing is exported as code, so nothing can be entered.
fn runtime_of(src: &str, limits: Limits, output: Box<dyn std::io::Write>) -> Shared<Runtime> {
    let m = parse_module(src).expect("parses");
    let v = capjit_verifier::verify(&m).expect("verifies");
    let code = CodeTable {
        entries: vec![vec![None]; 2],
        // No code, nothing to translate it: nothing can be called.
        code: vec![vec![std::ptr::null()]; 2],
        sigs: vec![vec![1]; 2],
        lazy: None,
    };
    Runtime::new(&v, code, limits, output).expect("links")
}

fn runtime() -> Shared<Runtime> {
    runtime_of(SRC, limits(), Box::new(std::io::sink()))
}

/// The context pointer generated code of domain `d` receives.
fn ctx(rt: &Runtime, d: usize) -> *mut DomainCtx {
    rt.domains()[d].context_ptr()
}

fn code(t: TrapCode) -> u32 {
    t.code() as u32
}

#[test]
fn helpers_through_the_context_touch_only_their_domain() {
    let rt = runtime();
    let (a, b) = (ctx(&rt, 0), ctx(&rt, 1));
    assert_eq!(from_code!(capjit_memory_grow(a, 1)), 1);
    assert_eq!(from_code!(capjit_memory_grow(b, 1)), 0);
    // The instance budget (3 pages + 100 bytes) is spent: -1, nothing changes.
    assert_eq!(from_code!(capjit_memory_grow(b, 1)), -1);
    assert_eq!(rt.domains()[1].memory().len(), PAGE);
    assert_eq!(from_code!(capjit_memory_copy(a, 100, 8, 4)), 0);
    assert_eq!(&rt.domains()[0].memory()[100..104], &[1, 2, 3, 4]);
    let near_end = 2 * PAGE as u32 - 2;
    assert_eq!(
        from_code!(capjit_memory_fill(a, near_end, 7, 3)),
        code(TrapCode::OutOfBounds)
    );
    assert_eq!(from_code!(capjit_memory_fill(b, 0, 9, 16)), 0);
    assert!(rt.domains()[0].memory()[..16].iter().all(|&x| x != 9));
    // The context always describes the domain's current memory.
    let state = &rt.domains()[0];
    assert_eq!(state.context().mem_base.cast_const(), state.memory().as_ptr());
    assert_eq!(state.context().mem_len, state.memory().len() as u64);
}

#[test]
fn regions_are_budgeted_owned_and_freed_with_their_domain() {
    let mut rt = runtime();
    let (a, b) = (ctx(&rt, 0), ctx(&rt, 1));
    assert_eq!(from_code!(capjit_memory_grow(a, 2)), 1);
    assert_eq!(from_code!(capjit_region_new(a, 64)), 0);
    let h = rt.domains()[0].context().scratch[0];
    assert_eq!(from_code!(capjit_region_store(a, h, 60, 4, 0xdead_beef)), 0);
    assert_eq!(from_code!(capjit_region_load(a, h, 60, 4, 1)), 0);
    assert_eq!(
        rt.domains()[0].context().scratch[0] as i64,
        0xdead_beef_u32 as i32 as i64
    );
    // Too large, and another domain's handle.
    assert_eq!(from_code!(capjit_region_new(a, 65)), code(TrapCode::ResourceLimit));
    assert_eq!(from_code!(capjit_region_len(b, h)), code(TrapCode::RegionInvalid));
    // 100 bytes of budget were left beyond the memory: 64 more do not fit.
    assert_eq!(from_code!(capjit_region_new(b, 64)), code(TrapCode::ResourceLimit));
    assert_eq!(from_code!(capjit_region_copy(a, h, 0, 8, 4, 0)), 0);
    assert_eq!(from_code!(capjit_region_copy(a, h, 0, 200, 4, 1)), 0);
    assert_eq!(&rt.domains()[0].memory()[200..204], &[1, 2, 3, 4]);
    assert_eq!(rt.budget_used(), 3 * PAGE_SIZE + 64);
    assert!(rt.restart(0));
    assert_eq!(
        rt.budget_used(),
        PAGE_SIZE,
        "restart frees the region and the grown pages"
    );
    assert_eq!(from_code!(capjit_region_len(a, h)), code(TrapCode::RegionInvalid));
}

#[test]
fn restart_and_kill_give_memory_back_and_keep_the_base() {
    let mut rt = runtime();
    let a = ctx(&rt, 0);
    let base = rt.domains()[0].memory().as_ptr();
    assert_eq!(from_code!(capjit_memory_grow(a, 2)), 1);
    rt.domain_mut(0).memory_mut()[3 * PAGE - 1] = 5;
    rt.domain_mut(0).memory_mut()[8] = 0;
    assert_eq!(rt.budget_used(), 3 * PAGE_SIZE);
    assert!(rt.restart(0));
    assert_eq!(rt.budget_used(), PAGE_SIZE);
    let state = &rt.domains()[0];
    assert_eq!((state.memory().as_ptr(), state.memory().len()), (base, PAGE));
    assert_eq!(state.memory()[8], 1, "the data segment is back");
    rt.kill(0);
    assert_eq!(rt.domains()[0].status(), DomainStatus::Dead);
    assert_eq!((rt.budget_used(), rt.domains()[0].memory().len()), (0, 0));
}

#[test]
fn the_runtime_half_of_call_cap_serves_host_capabilities() {
    let src = r#"
domain w {
  memory 1
  export func f() {
  block0:
    return
  }
}
domain app {
  memory 1
  data 0 "hi"
  import p = host.print : (buf)
  import reset = host.restart(w) : ()
  import call_f = w.f : ()
  export func main() {
  block0:
    return
  }
}"#;
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut rt = runtime_of(src, Limits::default(), Box::new(Sink(out.clone())));
    let app = ctx(&rt, 1);
    // A `buf` of 2 bytes at 0, as generated code packs it into a slot.
    let mut slots = [2u64 << 32];
    assert_eq!(
        from_code!(capjit_tcb::idc::capjit_call_cap(app, 0, slots.as_mut_ptr())),
        0
    );
    assert_eq!(out.lock().unwrap().as_slice(), b"hi");
    // A buf past the caller's memory: the caller traps (negated code).
    slots[0] = 0x10_0000 << 32;
    let status = from_code!(capjit_tcb::idc::capjit_call_cap(app, 0, slots.as_mut_ptr()));
    assert_eq!(status, -TrapCode::OutOfBounds.code());
    rt.domain_mut(0).memory_mut()[0] = 9;
    assert_eq!(
        from_code!(capjit_tcb::idc::capjit_call_cap(app, 1, slots.as_mut_ptr())),
        0
    );
    assert_eq!(rt.domains()[0].memory()[0], 0, "restarted");
    // `w.f` has no code here (nothing was translated): the call fails cleanly.
    let status = from_code!(capjit_tcb::idc::capjit_call_cap(app, 2, slots.as_mut_ptr()));
    assert_eq!(status, TrapCode::HostError.code());
    rt.revoke(1, 0);
    let status = from_code!(capjit_tcb::idc::capjit_call_cap(app, 0, slots.as_mut_ptr()));
    assert_eq!(status, TrapCode::CapRevoked.code());
}

/// Two funcref tables (one may grow by 3) and an element segment, without code:
/// each function carries a made-up signature number, and nothing is ever called.
const TABLES: &str = r#"
domain t {
  table [f, -] max 5
  table [g]
  elem [g, f, g]
  func f() {
  block0:
    return
  }
  export func g() {
  block0:
    return
  }
}"#;

fn table_runtime() -> Shared<Runtime> {
    let m = parse_module(TABLES).expect("parses");
    let v = capjit_verifier::verify(&m).expect("verifies");
    let code = CodeTable {
        entries: vec![vec![None, None]],
        code: vec![vec![std::ptr::null(); 2]],
        sigs: vec![vec![3, 7]],
        lazy: None,
    };
    Runtime::new(&v, code, Limits::default(), Box::new(std::io::sink())).expect("links")
}

/// Table `t` as generated code sees it through the context: (signature, item) per entry.
fn view(rt: &Runtime, t: usize) -> Vec<(u64, u64)> {
    let ctx = rt.domains()[0].context();
    // SAFETY: the runtime keeps `ctx.tables` pointing at one view per table of the
    // domain, each describing its table's current entries; nothing runs meanwhile.
    unsafe {
        let v = *ctx.tables.add(t);
        std::slice::from_raw_parts(v.base, v.len as usize)
            .iter()
            .map(|e| (e.sig, e.item))
            .collect()
    }
}

/// `table.get` through the helper: the reference, or the trap code.
fn get(rt: &Runtime, t: u32, i: u32) -> Result<u64, u32> {
    let c = ctx(rt, 0);
    match from_code!(capjit_table_get(c, t, i)) {
        0 => Ok(rt.domains()[0].context().scratch[0]),
        status => Err(status),
    }
}

#[test]
fn tables_follow_growth_changes_and_restart() {
    let mut rt = table_runtime();
    let c = ctx(&rt, 0);
    let oob = code(TrapCode::TableOutOfBounds);
    assert_eq!(view(&rt, 0), [(3, 0), (0, REF_NULL)]);
    assert_eq!(
        (get(&rt, 0, 0), get(&rt, 0, 1), get(&rt, 0, 2)),
        (Ok(0), Ok(REF_NULL), Err(oob))
    );
    // Growing moves the entries; the view follows, and the budget pays.
    let used = rt.budget_used();
    assert_eq!(from_code!(capjit_table_grow(c, 0, 1, 3)), 2);
    assert_eq!(rt.budget_used(), used + 3 * TABLE_ENTRY_BYTES);
    assert_eq!(from_code!(capjit_table_grow(c, 0, REF_NULL, 1)), -1, "past the maximum");
    assert_eq!(from_code!(capjit_table_grow(c, 1, REF_NULL, 0)), 1, "by nothing");
    assert_eq!(from_code!(capjit_table_size(c, 0)), 5);
    assert_eq!(view(&rt, 0)[2..], [(7, 1); 3]);
    // Set, fill, copy between tables and init from the segment, each checked whole.
    assert_eq!(from_code!(capjit_table_set(c, 0, 4, REF_NULL)), 0);
    assert_eq!(from_code!(capjit_table_set(c, 0, 5, 0)), oob);
    assert_eq!(
        from_code!(capjit_table_fill(c, 0, 3, 0, 3)),
        oob,
        "one entry past the end"
    );
    assert_eq!(from_code!(capjit_table_fill(c, 0, 3, 0, 2)), 0);
    assert_eq!(from_code!(capjit_table_copy(c, 1, 0, 0, 1, 1)), 0);
    assert_eq!(view(&rt, 1), [(0, REF_NULL)]);
    assert_eq!(from_code!(capjit_table_init(c, 0, 0, 0, 1, 2)), 0);
    assert_eq!(view(&rt, 0), [(3, 0), (7, 1), (7, 1), (3, 0), (3, 0)]);
    assert_eq!(from_code!(capjit_table_init(c, 0, 0, 4, 2, 2)), oob);
    assert_eq!(from_code!(capjit_elem_drop(c, 0)), 0);
    assert_eq!(
        from_code!(capjit_table_init(c, 0, 0, 0, 0, 1)),
        oob,
        "a dropped segment is empty"
    );
    assert_eq!(from_code!(capjit_table_init(c, 0, 0, 0, 0, 0)), 0);
    // A restart puts back the declared entries and gives the growth back.
    assert!(rt.restart(0));
    assert_eq!(rt.budget_used(), used);
    assert_eq!(view(&rt, 0), [(3, 0), (0, REF_NULL)]);
    assert_eq!(view(&rt, 1), [(7, 1)]);
    assert_eq!(
        from_code!(capjit_table_init(c, 1, 0, 0, 2, 1)),
        0,
        "the segment is back"
    );
    assert_eq!(view(&rt, 1), [(7, 1)]);
}
