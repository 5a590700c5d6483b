//! Isolation, as a property: whatever a verified program does in its own domain, no
//! byte of another domain's memory changes except through the copy semantics of
//! `call_cap`.
//!
//! Each case generates a module with five domains, in this order:
//!
//! - `left` and `right`: bystanders, one on each side of the attacker in the
//!   runtime's domain table, full of canary bytes, never called;
//! - `attacker`: random memory size, maximum, inbox and data, and a few exported
//!   `step` functions of random operations: stores, loads, `memory.copy` and
//!   `memory.fill` with random ranges, `memory.grow`, region operations with random
//!   sizes, indices and handles (including freed and transferred ones), and calls to
//!   the victim with random `buf` windows and regions. Addresses are constants or
//!   computed from a parameter (so that the verifier proves some accesses in
//!   bounds and leaves the others to run-time checks), biased towards the edges
//!   of memory and of the 32-bit address space;
//! - `victim`: a service the attacker may call; it writes only inside its inbox (so
//!   every byte outside the inbox must keep its value);
//! - `driver`: calls every step through a capability, restarts the attacker and
//!   the victim with `host.restart` when a step fails, and never writes memory.
//!
//! The host runs `driver.benign` first (one ordinary call), takes a snapshot of
//! every memory, runs `driver.main`, then invokes every step again directly
//! (restarting what traps), each after a random host action (revoke one of the
//! attacker's capabilities, kill or restart the victim, restart the attacker),
//! and compares: `left`, `right` and `driver` are equal
//! byte for byte, `victim` is equal outside its inbox. Run with the JIT (what
//! matters) and with the interpreter; both must also agree exactly on every result,
//! every memory, every domain's status and the trace of inter-domain calls.
//!
//! `CAPJIT_PROPTEST_CASES` sets the number of cases (default 200).

use std::fmt::Write as _;

use capjit::ir::exec::{DomainStatus, IdcEvent, Limits, RunError};
use capjit::ir::{parse_module, RegionHandle, Val};
use capjit::{Backend, Config, Instance};
use proptest::prelude::*;
use proptest::sample::{select, Index};

const VICTIM_INBOX: (u32, u32) = (1024, 256);

/// `region.write` through a dead handle with a memory range out of bounds traps
/// with `region_invalid` on the JIT and `out_of_bounds` in the interpreter
/// (`region_write_through_a_dead_handle_checks_the_handle_first`, ignored until
/// fixed). While it is open, generated `region.write`s through a handle that may
/// be dead keep their memory range in bounds, so that the property test goes on
/// looking for other problems.
const KNOWN_BUG_REGION_WRITE_ORDER: bool = false;
const DOMAINS: [&str; 5] = ["left", "attacker", "victim", "driver", "right"];

fn cases() -> u32 {
    std::env::var("CAPJIT_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// An address operand: a constant, or computed at run time from the step's
/// parameter (always 0), which the verifier cannot see through.
#[derive(Clone, Copy, Debug)]
struct Addr {
    value: u32,
    opaque: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Store {
        kind: usize,
        addr: Addr,
        offset: u32,
        bits: u64,
    },
    Load {
        kind: usize,
        addr: Addr,
        offset: u32,
    },
    Copy {
        dst: Addr,
        src: Addr,
        len: u32,
    },
    Fill {
        dst: Addr,
        byte: u32,
        len: u32,
    },
    Grow {
        delta: u32,
    },
    RegionNew {
        len: u32,
    },
    RegionStore {
        region: Index,
        kind: usize,
        index: u32,
        bits: u64,
    },
    RegionLoad {
        region: Index,
        kind: usize,
        index: u32,
    },
    RegionRead {
        region: Index,
        index: u32,
        addr: Addr,
        len: u32,
    },
    RegionWrite {
        region: Index,
        index: u32,
        addr: Addr,
        len: u32,
    },
    RegionFree {
        region: Index,
    },
    /// `victim.echo(buf) -> buf`: the window is copied in, then back into our inbox.
    Echo {
        ptr: Addr,
        len: u32,
    },
    /// `victim.sum(buf, buf) -> i32`: the victim also overwrites its copies.
    Sum {
        a: (Addr, u32),
        b: (Addr, u32),
    },
    /// `victim.forge(i32, i32) -> buf`: the victim returns a window of its choosing.
    Forge {
        ptr: u32,
        len: u32,
    },
    /// `victim.keep(region) -> region`: there and back, under a new handle.
    Keep {
        region: Index,
    },
    /// `victim.drop(region)`: given away; our handle is dead.
    Drop {
        region: Index,
    },
}

const STORES: [(&str, &str); 8] = [
    ("store.i32", "i32"),
    ("store.i64", "i64"),
    ("store8.i32", "i32"),
    ("store16.i32", "i32"),
    ("store16.i64", "i64"),
    ("store32.i64", "i64"),
    ("store.f32", "f32"),
    ("store.f64", "f64"),
];

const LOADS: [&str; 8] = [
    "load.i32",
    "load.i64",
    "load8u.i32",
    "load8s.i64",
    "load16s.i32",
    "load32u.i64",
    "load.f32",
    "load.f64",
];

/// Numbers near the edges: of the first pages, and of the 32-bit space.
fn arb_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => 0u32..300,
        3 => (0u32..4, -16i64..16).prop_map(|(page, d)| (page as i64 * 65536 + d).clamp(0, u32::MAX as i64) as u32),
        2 => (0u32..16).prop_map(|d| u32::MAX - d),
        1 => (0u32..16).prop_map(|d| 0x8000_0000u32.wrapping_add(d).wrapping_sub(8)),
        2 => any::<u32>(),
    ]
}

fn arb_len() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..40,
        2 => select(vec![64u32, 255, 256, 257, 4096, 65535, 65536, 65537, 131072]),
        1 => arb_u32(),
    ]
}

fn arb_addr() -> impl Strategy<Value = Addr> {
    (arb_u32(), any::<bool>()).prop_map(|(value, opaque)| Addr { value, opaque })
}

fn arb_offset() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(0u32), 2 => 0u32..70_000, 1 => arb_u32()]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..STORES.len(), arb_addr(), arb_offset(), any::<u64>())
            .prop_map(|(kind, addr, offset, bits)| Op::Store { kind, addr, offset, bits }),
        2 => (0..LOADS.len(), arb_addr(), arb_offset()).prop_map(|(kind, addr, offset)| Op::Load { kind, addr, offset }),
        3 => (arb_addr(), arb_addr(), arb_len()).prop_map(|(dst, src, len)| Op::Copy { dst, src, len }),
        3 => (arb_addr(), any::<u32>(), arb_len()).prop_map(|(dst, byte, len)| Op::Fill { dst, byte, len }),
        2 => prop_oneof![0u32..3, arb_u32()].prop_map(|delta| Op::Grow { delta }),
        2 => prop_oneof![4 => 0u32..64, 1 => arb_len()].prop_map(|len| Op::RegionNew { len }),
        2 => (any::<Index>(), 0..STORES.len(), prop_oneof![0u32..80, arb_u32()], any::<u64>())
            .prop_map(|(region, kind, index, bits)| Op::RegionStore { region, kind, index, bits }),
        1 => (any::<Index>(), 0..LOADS.len(), prop_oneof![0u32..80, arb_u32()])
            .prop_map(|(region, kind, index)| Op::RegionLoad { region, kind, index }),
        2 => (any::<Index>(), prop_oneof![0u32..80, arb_u32()], arb_addr(), arb_len())
            .prop_map(|(region, index, addr, len)| Op::RegionRead { region, index, addr, len }),
        2 => (any::<Index>(), prop_oneof![0u32..80, arb_u32()], arb_addr(), arb_len())
            .prop_map(|(region, index, addr, len)| Op::RegionWrite { region, index, addr, len }),
        1 => any::<Index>().prop_map(|region| Op::RegionFree { region }),
        3 => (arb_addr(), arb_len()).prop_map(|(ptr, len)| Op::Echo { ptr, len }),
        2 => ((arb_addr(), arb_len()), (arb_addr(), arb_len())).prop_map(|(a, b)| Op::Sum { a, b }),
        2 => (arb_u32(), arb_len()).prop_map(|(ptr, len)| Op::Forge { ptr, len }),
        2 => any::<Index>().prop_map(|region| Op::Keep { region }),
        1 => any::<Index>().prop_map(|region| Op::Drop { region }),
    ]
}

/// The attacker's memory: initial pages, maximum, inbox, a data segment.
#[derive(Clone, Debug)]
struct Layout {
    initial: u32,
    maximum: u32,
    inbox: Option<(u32, u32)>,
    data_at: u32,
}

fn arb_layout() -> impl Strategy<Value = Layout> {
    (0u32..3, 0u32..3, any::<bool>(), 0u32..2048, 0u32..1024, 0u32..60_000).prop_map(
        |(initial, extra, inbox, inbox_at, inbox_size, data_at)| {
            let bytes = initial * 65536;
            Layout {
                initial,
                maximum: initial + extra,
                inbox: (inbox && bytes > 0).then_some((inbox_at, inbox_size)),
                data_at: if bytes > 0 { data_at.min(bytes - 16) } else { 0 },
            }
        },
    )
}

/// What the host does before it calls a step directly.
#[derive(Clone, Debug)]
enum HostAction {
    Nothing,
    /// Revoke one of the attacker's imports of the victim.
    Revoke(&'static str),
    KillVictim,
    RestartVictim,
    RestartAttacker,
}

fn arb_host_action() -> impl Strategy<Value = HostAction> {
    prop_oneof![
        6 => Just(HostAction::Nothing),
        2 => select(vec!["echo", "sum", "forge", "keep", "drop"]).prop_map(HostAction::Revoke),
        1 => Just(HostAction::KillVictim),
        1 => Just(HostAction::RestartVictim),
        1 => Just(HostAction::RestartAttacker),
    ]
}

#[derive(Clone, Debug)]
struct Attack {
    layout: Layout,
    steps: Vec<Vec<Op>>,
    /// Before the host calls step `k` directly (after `driver.main`).
    host: Vec<HostAction>,
    /// Seed of the bystanders' canary bytes.
    seed: u8,
}

fn arb_attack() -> impl Strategy<Value = Attack> {
    (
        arb_layout(),
        proptest::collection::vec(proptest::collection::vec(arb_op(), 1..10), 1..5),
        proptest::collection::vec(arb_host_action(), 5),
        any::<u8>(),
    )
        .prop_map(|(layout, steps, host, seed)| Attack {
            layout,
            steps,
            host,
            seed,
        })
}

/// Writes one function's body, numbering values and blocks.
struct Body {
    text: String,
    values: u32,
    blocks: u32,
    /// Region handles defined so far, and whether each may be dead (freed, or
    /// given away) when used.
    regions: Vec<(String, bool)>,
    /// Bytes of the attacker's initial memory (it never gets smaller).
    memory_bytes: u32,
}

impl Body {
    fn val(&mut self) -> String {
        self.values += 1;
        format!("v{}", self.values)
    }

    fn inst(&mut self, rhs: &str) -> String {
        let v = self.val();
        let _ = writeln!(self.text, "    {v} = {rhs}");
        v
    }

    fn stmt(&mut self, s: &str) {
        let _ = writeln!(self.text, "    {s}");
    }

    fn label(&mut self) -> String {
        self.blocks += 1;
        format!("block{}", self.blocks)
    }

    fn i32c(&mut self, x: u32) -> String {
        self.inst(&format!("iconst.i32 {x}"))
    }

    fn addr(&mut self, a: Addr) -> String {
        let c = self.i32c(a.value);
        if a.opaque {
            self.inst(&format!("iadd.i32 v0, {c}"))
        } else {
            c
        }
    }

    fn constant(&mut self, ty: &str, bits: u64) -> String {
        match ty {
            "i32" => self.inst(&format!("iconst.i32 {}", bits as u32)),
            "i64" => self.inst(&format!("iconst.i64 {}", bits as i64)),
            "f32" => self.inst(&format!("fconst.f32 0x{:x}", bits as u32)),
            _ => self.inst(&format!("fconst.f64 0x{bits:x}")),
        }
    }

    /// A region handle to use (and its slot), making one when there is none yet.
    fn region(&mut self, i: &Index) -> (String, usize) {
        if self.regions.is_empty() {
            let n = self.i32c(16);
            let r = self.inst(&format!("region.new {n}"));
            self.regions.push((r, false));
        }
        let slot = i.index(self.regions.len());
        (self.regions[slot].0.clone(), slot)
    }

    /// `call_cap` of import `cap`; the `ok` block takes `results` (types), and both
    /// edges meet in a fresh block. Returns the `ok` block's parameter values.
    fn call(&mut self, cap: &str, args: &[String], results: &[&str]) -> Vec<String> {
        let c = self.inst(&format!("cap.get {cap}"));
        let (ok, fail, join) = (self.label(), self.label(), self.label());
        self.stmt(&format!("call_cap {c}({}) -> ok({ok}), fail({fail})", args.join(", ")));
        let params: Vec<String> = results.iter().map(|_| self.val()).collect();
        let decl: Vec<String> = params.iter().zip(results).map(|(v, t)| format!("{v}: {t}")).collect();
        let _ = writeln!(self.text, "  {ok}({}):", decl.join(", "));
        self.stmt(&format!("jump {join}"));
        let code = self.val();
        let _ = writeln!(self.text, "  {fail}({code}: i32):");
        self.stmt(&format!("jump {join}"));
        let _ = writeln!(self.text, "  {join}:");
        params
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Store {
                kind,
                addr,
                offset,
                bits,
            } => {
                let (name, ty) = STORES[*kind];
                let v = self.constant(ty, *bits);
                let a = self.addr(*addr);
                self.stmt(&format!("{name} {v}, {a}+{offset}"));
            }
            Op::Load { kind, addr, offset } => {
                let a = self.addr(*addr);
                self.inst(&format!("{} {a}+{offset}", LOADS[*kind]));
            }
            Op::Copy { dst, src, len } => {
                let (d, s, n) = (self.addr(*dst), self.addr(*src), self.i32c(*len));
                self.stmt(&format!("memory.copy {d}, {s}, {n}"));
            }
            Op::Fill { dst, byte, len } => {
                let (d, b, n) = (self.addr(*dst), self.i32c(*byte), self.i32c(*len));
                self.stmt(&format!("memory.fill {d}, {b}, {n}"));
            }
            Op::Grow { delta } => {
                let d = self.i32c(*delta);
                self.inst(&format!("memory.grow {d}"));
                self.inst("memory.size");
            }
            Op::RegionNew { len } => {
                let n = self.i32c(*len);
                let r = self.inst(&format!("region.new {n}"));
                self.regions.push((r, false));
            }
            Op::RegionStore {
                region,
                kind,
                index,
                bits,
            } => {
                let (r, _) = self.region(region);
                let (name, ty) = STORES[*kind];
                let v = self.constant(ty, *bits);
                let i = self.i32c(*index);
                self.stmt(&format!("region.{name} {v}, {r}, {i}"));
            }
            Op::RegionLoad { region, kind, index } => {
                let (r, _) = self.region(region);
                let i = self.i32c(*index);
                self.inst(&format!("region.{} {r}, {i}", LOADS[*kind]));
            }
            Op::RegionRead {
                region,
                index,
                addr,
                len,
            }
            | Op::RegionWrite {
                region,
                index,
                addr,
                len,
            } => {
                let (r, slot) = self.region(region);
                let write = matches!(op, Op::RegionWrite { .. });
                let (mut addr, mut len) = (*addr, *len);
                if write && KNOWN_BUG_REGION_WRITE_ORDER && self.regions[slot].1 {
                    // Keep the memory range in bounds, so that a dead handle traps
                    // the same way on both backends (see the ignored test below).
                    addr.value = addr.value.min(self.memory_bytes);
                    len = len.min(self.memory_bytes - addr.value);
                }
                let (i, a, n) = (self.i32c(*index), self.addr(addr), self.i32c(len));
                let dir = if write { "write" } else { "read" };
                self.stmt(&format!("region.{dir} {r}, {i}, {a}, {n}"));
            }
            Op::RegionFree { region } => {
                let (r, slot) = self.region(region);
                self.stmt(&format!("region.free {r}"));
                self.regions[slot].1 = true;
            }
            Op::Echo { ptr, len } => {
                let b = self.buf(*ptr, *len);
                self.call("echo", &[b], &["buf"]);
            }
            Op::Sum { a, b } => {
                let x = self.buf(a.0, a.1);
                let y = self.buf(b.0, b.1);
                self.call("sum", &[x, y], &["i32"]);
            }
            Op::Forge { ptr, len } => {
                let (p, n) = (self.i32c(*ptr), self.i32c(*len));
                self.call("forge", &[p, n], &["buf"]);
            }
            Op::Keep { region } => {
                let (r, slot) = self.region(region);
                // The new handle only exists on the ok edge; the join block takes
                // it, or the old handle on the fail edge.
                let c = self.inst("cap.get keep");
                let (ok, fail, join) = (self.label(), self.label(), self.label());
                self.stmt(&format!("call_cap {c}({r}) -> ok({ok}), fail({fail})"));
                let (back, code, joined) = (self.val(), self.val(), self.val());
                let _ = writeln!(self.text, "  {ok}({back}: region):");
                self.stmt(&format!("jump {join}({back})"));
                let _ = writeln!(self.text, "  {fail}({code}: i32):");
                self.stmt(&format!("jump {join}({r})"));
                let _ = writeln!(self.text, "  {join}({joined}: region):");
                // On the fail edge the old handle may be dead (the victim trapped
                // after the transfer) or alive (the call failed before it).
                self.regions[slot] = (joined, true);
            }
            Op::Drop { region } => {
                let (r, slot) = self.region(region);
                self.call("drop", &[r], &[]);
                self.regions[slot].1 = true;
            }
        }
    }

    fn buf(&mut self, ptr: Addr, len: u32) -> String {
        let (p, n) = (self.addr(ptr), self.i32c(len));
        self.inst(&format!("buf.make {p}, {n}"))
    }
}

/// Deterministic canary bytes, written as a `data` string.
fn canary(seed: u8, n: usize) -> String {
    let mut s = String::new();
    let mut x = (seed as u32).wrapping_mul(2654435761).wrapping_add(12345);
    for _ in 0..n {
        x = x.wrapping_mul(1103515245).wrapping_add(12345);
        let _ = write!(s, "\\{:02x}", (x >> 16) as u8);
    }
    s
}

fn bystander(name: &str, seed: u8) -> String {
    format!(
        "domain {name} {{
  memory 2
  data 0 \"{}\"
  data 65500 \"{}\"
  data 131000 \"{}\"
  export func peek() -> i32 {{
  block0:
    v0 = iconst.i32 0
    v1 = load8u.i32 v0
    return v1
  }}
}}
",
        canary(seed, 64),
        canary(seed.wrapping_add(1), 72),
        canary(seed.wrapping_add(2), 72)
    )
}

const VICTIM: &str = "domain victim {
  memory 1
  inbox 1024 256
  data 0 \"victim secret: not for the attacker to change\"
  data 1000 \"just before the inbox....\"
  data 1280 \"just after the inbox\"
  data 65000 \"victim data at the end\"
  export func echo(buf) -> buf {
  block0(v0: buf):
    return v0
  }
  ; the sum of the bytes of a; zeroes the first byte of each copy (its own inbox)
  export func sum(buf, buf) -> i32 {
  block0(v0: buf, v1: buf):
    v2 = buf.ptr v0
    v3 = buf.len v0
    v4 = iconst.i32 0
    jump block1(v4, v4)
  block1(v5: i32, v6: i32):
    v7 = icmp.ult.i32 v6, v3
    brif v7, block2, block3
  block2:
    v8 = iadd.i32 v2, v6
    v9 = load8u.i32 v8
    v10 = iadd.i32 v5, v9
    v11 = iconst.i32 1
    v12 = iadd.i32 v6, v11
    jump block1(v10, v12)
  block3:
    brif v3, block4, block5
  block4:
    store8.i32 v4, v2
    jump block5
  block5:
    v13 = buf.len v1
    brif v13, block6, block7
  block6:
    v14 = buf.ptr v1
    store8.i32 v4, v14
    jump block7
  block7:
    return v5
  }
  ; a window of the victim's memory of the caller's choosing (it may be out of
  ; bounds: then the victim traps at its return)
  export func forge(i32, i32) -> buf {
  block0(v0: i32, v1: i32):
    v2 = buf.make v0, v1
    return v2
  }
  export func keep(region) -> region {
  block0(v0: region):
    v1 = region.len v0
    v2 = iconst.i32 4
    v3 = icmp.uge.i32 v1, v2
    brif v3, block1, block2
  block1:
    v4 = iconst.i32 0x5eed
    v5 = iconst.i32 0
    region.store.i32 v4, v0, v5
    jump block2
  block2:
    return v0
  }
  export func drop(region) {
  block0(v0: region):
    region.free v0
    return
  }
}
";

fn module_text(a: &Attack) -> String {
    let l = &a.layout;
    let mut attacker = format!("domain attacker {{\n  memory {} {}\n", l.initial, l.maximum);
    if let Some((at, size)) = l.inbox {
        let _ = writeln!(attacker, "  inbox {at} {size}");
    }
    if l.initial > 0 {
        let _ = writeln!(attacker, "  data {} \"attacker{}\"", l.data_at, canary(a.seed, 8));
    }
    attacker.push_str(
        "  import echo = victim.echo : (buf) -> buf
  import sum = victim.sum : (buf, buf) -> i32
  import forge = victim.forge : (i32, i32) -> buf
  import keep = victim.keep : (region) -> region
  import drop = victim.drop : (region)
",
    );
    for (k, ops) in a.steps.iter().enumerate() {
        let mut body = Body {
            text: String::new(),
            values: 0,
            blocks: 0,
            regions: Vec::new(),
            memory_bytes: l.initial * 65536,
        };
        for op in ops {
            body.op(op);
        }
        let _ = write!(
            attacker,
            "  export func step{k}(i32) {{\n  block0(v0: i32):\n{}    return\n  }}\n",
            body.text
        );
    }
    attacker.push_str("}\n");

    let mut driver = String::from(
        "domain driver {
  memory 1
  data 0 \"driver: never written\"
  import restart_attacker = host.restart(attacker) : ()
  import restart_victim = host.restart(victim) : ()
  import sum = victim.sum : (buf, buf) -> i32
",
    );
    for k in 0..a.steps.len() {
        let _ = writeln!(driver, "  import step{k} = attacker.step{k} : (i32)");
    }
    // An ordinary call before the snapshot.
    driver.push_str(
        "  export func benign() -> i32 {
  block0:
    v0 = iconst.i32 0
    v1 = iconst.i32 8
    v2 = buf.make v0, v1
    v3 = cap.get sum
    call_cap v3(v2, v2) -> ok(block1), fail(block2)
  block1(v4: i32):
    return v4
  block2(v5: i32):
    return v5
  }
  export func main() {
  block0:
    v0 = iconst.i32 0
    jump block1
",
    );
    // Step k: blocks b..b+3, then the next step at b+4.
    for k in 0..a.steps.len() {
        let b = 1 + 4 * k;
        let v = 10 * (k + 1);
        let _ = write!(
            driver,
            "  block{b}:
    v{v} = cap.get step{k}
    call_cap v{v}(v0) -> ok(block{n}), fail(block{b1})
  block{b1}(v{v1}: i32):
    v{v2} = cap.get restart_attacker
    call_cap v{v2}() -> ok(block{b2}), fail(block{b3})
  block{b2}:
    v{v3} = cap.get restart_victim
    call_cap v{v3}() -> ok(block{n}), fail(block{b3})
  block{b3}(v{v4}: i32):
    jump block{n}
",
            n = b + 4,
            b1 = b + 1,
            b2 = b + 2,
            b3 = b + 3,
            v1 = v + 1,
            v2 = v + 2,
            v3 = v + 3,
            v4 = v + 4,
        );
    }
    let _ = write!(driver, "  block{}:\n    return\n  }}\n}}\n", 1 + 4 * a.steps.len());

    format!(
        "{}\n{attacker}\n{VICTIM}\n{driver}\n{}",
        bystander("left", a.seed),
        bystander("right", a.seed.wrapping_add(7))
    )
}

/// What a run showed, compared between the backends.
#[derive(Debug, PartialEq)]
struct Observed {
    results: Vec<Result<Vec<Val>, RunError>>,
    trace: Vec<IdcEvent>,
    memories: Vec<Vec<u8>>,
    status: Vec<Option<DomainStatus>>,
}

fn memory(inst: &Instance, d: &str) -> Vec<u8> {
    inst.memory(d).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Run the attack on one backend; `Err` says which isolation check failed.
fn run(text: &str, a: &Attack, backend: Backend) -> Result<Observed, String> {
    let module = parse_module(text).map_err(|e| format!("generated text does not parse: {e}"))?;
    let config = Config {
        backend,
        limits: Limits {
            fuel: 1_000_000,
            max_region_bytes: 1 << 20,
            max_memory_pages: 8,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut inst = Instance::new(&module, &config, Box::new(std::io::sink()))
        .map_err(|e| format!("generated module is refused: {e}"))?;
    let mut results = Vec::new();
    let benign = inst.invoke("driver", "benign", &[]);
    let want: i32 = b"driver: ".iter().map(|&b| b as i32).sum();
    if benign != Ok(vec![Val::I32(want)]) {
        return Err(format!("the benign call gave {benign:?}"));
    }
    results.push(benign);
    let before: Vec<Vec<u8>> = DOMAINS.iter().map(|d| memory(&inst, d)).collect();

    inst.set_trace(true);
    let main = inst.invoke("driver", "main", &[]);
    if main != Ok(vec![]) {
        return Err(format!(
            "driver.main gave {main:?}: a step's failure escaped the driver"
        ));
    }
    results.push(main);
    // The host calls every step directly too; an attacker trap reaches the host.
    for k in 0..a.steps.len() {
        match a.host[k] {
            HostAction::Nothing => Ok(()),
            HostAction::Revoke(import) => inst.revoke("attacker", import),
            HostAction::KillVictim => inst.kill("victim"),
            HostAction::RestartVictim => inst.restart("victim"),
            HostAction::RestartAttacker => inst.restart("attacker"),
        }
        .map_err(|e| format!("host action {:?}: {e}", a.host[k]))?;
        let r = inst.invoke("attacker", &format!("step{k}"), &[Val::I32(0)]);
        match &r {
            Ok(_) => {}
            Err(RunError::Trap(info)) if info.domain == "attacker" => {
                inst.restart("attacker").map_err(|e| e.to_string())?;
                inst.restart("victim").map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(format!("step{k} called by the host gave {e:?}")),
        }
        results.push(r);
    }
    // Region handles are opaque numbers: each backend may number them its own way.
    let trace = inst
        .take_trace()
        .into_iter()
        .map(|mut e| {
            if let Ok(vals) = &mut e.outcome {
                for v in vals.iter_mut().filter(|v| matches!(v, Val::Region(_))) {
                    *v = Val::Region(RegionHandle { slot: 0, generation: 0 });
                }
            }
            e
        })
        .collect();

    let after: Vec<Vec<u8>> = DOMAINS.iter().map(|d| memory(&inst, d)).collect();
    for (i, d) in DOMAINS.iter().enumerate() {
        let (b, n) = (&before[i], &after[i]);
        let changed: Vec<usize> = if b.len() != n.len() {
            vec![b.len().min(n.len())]
        } else {
            let (lo, hi) = (VICTIM_INBOX.0 as usize, (VICTIM_INBOX.0 + VICTIM_INBOX.1) as usize);
            (0..b.len())
                .filter(|&j| b[j] != n[j] && !(*d == "victim" && (lo..hi).contains(&j)))
                .collect()
        };
        // A killed victim's memory is freed (and comes back as its image if the host
        // restarts it).
        let freed = *d == "victim" && n.is_empty() && inst.status(d) == Some(DomainStatus::Dead);
        if *d != "attacker" && !freed && !changed.is_empty() {
            return Err(format!(
                "memory of `{d}` changed: {} byte(s) from offset {} (length {} -> {})",
                changed.len(),
                changed[0],
                b.len(),
                n.len()
            ));
        }
    }
    Ok(Observed {
        results,
        trace,
        memories: after,
        status: DOMAINS.iter().map(|d| inst.status(d)).collect(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn other_domains_memories_never_change(attack in arb_attack()) {
        let text = module_text(&attack);
        let jit = run(&text, &attack, Backend::Jit);
        let interp = run(&text, &attack, Backend::Interpreter);
        prop_assert!(jit.is_ok(), "JIT: {}\n{text}", jit.as_ref().err().cloned().unwrap_or_default());
        prop_assert!(interp.is_ok(), "interpreter: {}\n{text}", interp.as_ref().err().cloned().unwrap_or_default());
        if let (Ok(j), Ok(i)) = (&jit, &interp) {
            if j != i {
                let mut diff = String::new();
                if j.results != i.results {
                    let _ = writeln!(diff, "results:\n  jit:    {:?}\n  interp: {:?}", j.results, i.results);
                }
                if j.trace != i.trace {
                    let _ = writeln!(diff, "trace:\n  jit:    {:?}\n  interp: {:?}", j.trace, i.trace);
                }
                if j.status != i.status {
                    let _ = writeln!(diff, "status:\n  jit:    {:?}\n  interp: {:?}", j.status, i.status);
                }
                for (d, (x, y)) in DOMAINS.iter().zip(j.memories.iter().zip(&i.memories)) {
                    if x != y {
                        let at = x.iter().zip(y).position(|(p, q)| p != q);
                        let _ = writeln!(diff, "memory of {d}: lengths {} / {}, first difference at {at:?}", x.len(), y.len());
                    }
                }
                prop_assert!(false, "the JIT and the interpreter disagree:\n{diff}\n{text}");
            }
        }
    }
}

/// docs/ir.md: "Every region operation checks that the running domain owns the
/// region through this handle; otherwise it traps with `region_invalid`". The JIT
/// runtime (`capjit_region_copy`) does, for `region.read` and `region.write`; the
/// interpreter does for `region.read`, but its `region.write` checks the memory
/// range first and traps with `out_of_bounds` when the handle is dead and the
/// range is outside memory as well.
#[test]
fn region_write_through_a_dead_handle_checks_the_handle_first() {
    let text = "domain a {
  memory 0
  export func write() {
  block0:
    v0 = iconst.i32 16
    v1 = region.new v0
    region.free v1
    v2 = iconst.i32 0
    v3 = iconst.i32 1
    region.write v1, v2, v2, v3      ; dead handle, and [0, 1) is outside memory
    return
  }
  export func read() {
  block0:
    v0 = iconst.i32 16
    v1 = region.new v0
    region.free v1
    v2 = iconst.i32 0
    v3 = iconst.i32 1
    region.read v1, v2, v2, v3
    return
  }
}
";
    let module = parse_module(text).expect("parses");
    let mut failures = Vec::new();
    for backend in [Backend::Jit, Backend::Interpreter] {
        for f in ["write", "read"] {
            let config = Config {
                backend,
                ..Config::default()
            };
            let mut inst = Instance::new(&module, &config, Box::new(std::io::sink())).expect("instantiates");
            match inst.invoke("a", f, &[]) {
                Err(RunError::Trap(info)) if info.code == capjit::ir::TrapCode::RegionInvalid => {}
                other => failures.push(format!("{backend:?} region.{f}: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "expected region_invalid:\n{}", failures.join("\n"));
}
