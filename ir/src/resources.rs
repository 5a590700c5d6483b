//! TRUSTED model. What a guest can make the host allocate, bounded once for both
//! executors: the instance's byte budget (linear memory plus region bytes) and the
//! region table (buffers outside every linear memory, each owned by exactly one
//! domain).
//!
//! Invariants protected:
//! - bytes charged to the budget never exceed its limit, and every charge is
//!   released exactly once (a grow, a region, a restart, a kill);
//! - a region handle is (slot, generation); freeing or transferring a region bumps
//!   the generation, so every older handle is dead; a slot whose generation reaches
//!   `u32::MAX` is retired, so generations never wrap;
//! - a domain creates a region only within its own count and byte budgets and the
//!   instance's; a buffer that cannot be allocated is `resource_limit`, never an
//!   abort. A transfer allocates nothing and never fails for lack of budget: the
//!   receiver's count and bytes grow, and it cannot create more while over.
//!
//! The JIT runtime and the reference interpreter share this one table (it is plain
//! data); each supplies its own buffer allocator.

use crate::exec::Limits;
use crate::model::{Domain, PAGE_SIZE};
use crate::trap::TrapCode;
use crate::value::RegionHandle;

/// Bytes a table entry added by `table.grow` is charged to the instance's budget:
/// what the JIT runtime keeps per entry, rounded up (the declared entries are
/// bounded by `Limits::max_table_entries` instead).
pub const TABLE_ENTRY_BYTES: u64 = 24;

/// The most entries a table may reach: its own maximum, capped by the limits.
pub fn table_max(maximum: u32, limits: &Limits) -> u32 {
    maximum.min(limits.max_table_entries)
}

/// Bytes the instance may hold for its domains: linear memory committed plus live
/// region bytes, across every domain.
#[derive(Clone, Debug)]
pub struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget { limit, used: 0 }
    }

    /// Take `bytes` from the budget, or leave it unchanged and say no.
    pub fn try_charge(&mut self, bytes: u64) -> bool {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.limit => {
                self.used = total;
                true
            }
            _ => false,
        }
    }

    /// Give back `bytes` taken earlier.
    pub fn release(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// `table.grow` by `delta` entries of a table of `len` entries that may reach
    /// `max` entries: charges [`TABLE_ENTRY_BYTES`] per new entry, then asks the
    /// executor's `supply` to add the entries, and gives the bytes back if it
    /// cannot. The old size, or -1 (nothing changed) past the maximum, the budget or
    /// what the host supplies. Entries beyond the declared ones are released when
    /// the domain restarts or dies ([`Budget::release_table`]).
    pub fn grow_table(&mut self, len: usize, delta: u32, max: u32, supply: impl FnOnce(usize) -> bool) -> i32 {
        let bytes = delta as u64 * TABLE_ENTRY_BYTES;
        if len as u64 + delta as u64 > max as u64 || !self.try_charge(bytes) {
            return -1;
        }
        if !supply(delta as usize) {
            self.release(bytes);
            return -1;
        }
        len as u32 as i32
    }

    /// Give back what [`Budget::grow_table`] charged for a table of `len` entries
    /// declared with `declared`.
    pub fn release_table(&mut self, len: usize, declared: usize) {
        self.release(len.saturating_sub(declared) as u64 * TABLE_ENTRY_BYTES);
    }

    /// `memory.grow` by `delta` pages of a memory of `len` bytes that may reach
    /// `max_pages`: charges the new bytes, then asks the executor's `supply` to add
    /// that many bytes, and gives them back if it cannot. The old size in pages, or
    /// -1 (nothing changed) past the maximum, the budget or what the host supplies.
    pub fn grow(&mut self, len: u64, delta: u32, max_pages: u32, supply: impl FnOnce(usize) -> bool) -> i32 {
        let old = len / PAGE_SIZE;
        let bytes = delta as u64 * PAGE_SIZE;
        if old + delta as u64 > max_pages as u64 || !self.try_charge(bytes) {
            return -1;
        }
        if !supply(bytes as usize) {
            self.release(bytes);
            return -1;
        }
        old as i32
    }
}

/// Admit domain `d` when linking: its function table and initial memory within
/// `limits`, and its initial memory charged to `budget`. The bytes charged, or why
/// the domain cannot be linked.
pub fn admit(d: &Domain, limits: &Limits, budget: &mut Budget) -> Result<u64, String> {
    if let Some(t) = d
        .tables
        .iter()
        .find(|t| t.init.len() > limits.max_table_entries as usize)
    {
        return Err(format!(
            "table of {} entries exceeds the limit of {}",
            t.init.len(),
            limits.max_table_entries
        ));
    }
    if d.memory.initial > limits.max_memory_pages {
        return Err(format!(
            "memory of {} pages exceeds the limit of {} pages",
            d.memory.initial, limits.max_memory_pages
        ));
    }
    let bytes = d.memory.initial as u64 * PAGE_SIZE;
    if !budget.try_charge(bytes) {
        return Err(format!(
            "memory of {bytes} bytes exceeds what is left of the instance's budget of {} bytes",
            limits.max_instance_bytes
        ));
    }
    Ok(bytes)
}

/// A zero-filled buffer of exactly `len` bytes, or `None` when the host cannot
/// supply it. Each executor brings its own (the JIT runtime's commits pages only
/// when they are touched).
pub type AllocZeroed = fn(len: usize) -> Option<Vec<u8>>;

/// The plain allocator: reserve fallibly, then fill (every page is touched).
pub fn alloc_zeroed_filled(len: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, 0);
    Some(v)
}

struct Slot {
    owner: Option<usize>,
    generation: u32,
    bytes: Vec<u8>,
}

/// What one domain holds in regions now.
#[derive(Clone, Copy, Debug, Default)]
struct Holding {
    count: u32,
    bytes: u64,
}

pub struct RegionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: u32,
    held: Vec<Holding>,
    limits: Limits,
    alloc: AllocZeroed,
}

impl RegionTable {
    /// An empty table for `domains` domains under `limits`.
    pub fn new(domains: usize, limits: &Limits, alloc: AllocZeroed) -> Self {
        RegionTable {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            held: vec![Holding::default(); domains],
            limits: *limits,
            alloc,
        }
    }

    /// A new zeroed region of `len` bytes owned by `owner`, its bytes charged to
    /// `budget`; `resource_limit` when any budget or the host says no.
    pub fn create(&mut self, owner: usize, len: u32, budget: &mut Budget) -> Result<RegionHandle, TrapCode> {
        let held = self.held.get(owner).copied().ok_or(TrapCode::ResourceLimit)?;
        let within = len <= self.limits.max_region_bytes
            && self.live < self.limits.max_regions
            && held.count < self.limits.max_domain_regions
            && held.bytes + len as u64 <= self.limits.max_domain_region_bytes;
        if !within || self.free.is_empty() && self.slots.try_reserve(1).is_err() {
            return Err(TrapCode::ResourceLimit);
        }
        if !budget.try_charge(len as u64) {
            return Err(TrapCode::ResourceLimit);
        }
        let Some(bytes) = (self.alloc)(len as usize) else {
            budget.release(len as u64);
            return Err(TrapCode::ResourceLimit);
        };
        let slot = match self.free.pop() {
            Some(s) => {
                let slot = &mut self.slots[s as usize];
                slot.owner = Some(owner);
                slot.bytes = bytes;
                s
            }
            None => {
                self.slots.push(Slot {
                    owner: Some(owner),
                    generation: 0,
                    bytes,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.live += 1;
        self.hold(owner, 1, len as u64);
        Ok(RegionHandle {
            slot,
            generation: self.slots[slot as usize].generation,
        })
    }

    fn hold(&mut self, domain: usize, count: u32, bytes: u64) {
        if let Some(h) = self.held.get_mut(domain) {
            h.count += count;
            h.bytes += bytes;
        }
    }

    fn unhold(&mut self, domain: usize, count: u32, bytes: u64) {
        if let Some(h) = self.held.get_mut(domain) {
            h.count -= count;
            h.bytes -= bytes;
        }
    }

    fn slot(&self, h: RegionHandle, domain: usize) -> Result<&Slot, TrapCode> {
        match self.slots.get(h.slot as usize) {
            Some(s) if s.owner == Some(domain) && s.generation == h.generation => Ok(s),
            _ => Err(TrapCode::RegionInvalid),
        }
    }

    /// The region's bytes, if `domain` owns it through this handle.
    pub fn bytes(&self, h: RegionHandle, domain: usize) -> Result<&[u8], TrapCode> {
        self.slot(h, domain).map(|s| s.bytes.as_slice())
    }

    pub fn bytes_mut(&mut self, h: RegionHandle, domain: usize) -> Result<&mut [u8], TrapCode> {
        self.slot(h, domain)?;
        Ok(&mut self.slots[h.slot as usize].bytes)
    }

    /// Check that `domain` owns the region through this handle.
    pub fn check(&self, h: RegionHandle, domain: usize) -> Result<(), TrapCode> {
        self.slot(h, domain).map(|_| ())
    }

    /// Drop slot `s`'s buffer and give its bytes back; the slot is recycled unless
    /// its generation is spent.
    fn release_slot(&mut self, s: u32, budget: &mut Budget) {
        let slot = &mut self.slots[s as usize];
        let owner = slot.owner.take();
        let len = std::mem::take(&mut slot.bytes).len() as u64;
        budget.release(len);
        self.live -= 1;
        if let Some(o) = owner {
            self.unhold(o, 1, len);
        }
        let slot = &mut self.slots[s as usize];
        if slot.generation == u32::MAX {
            return; // retired for good
        }
        slot.generation += 1;
        self.free.push(s);
    }

    pub fn free(&mut self, h: RegionHandle, domain: usize, budget: &mut Budget) -> Result<(), TrapCode> {
        self.check(h, domain)?;
        self.release_slot(h.slot, budget);
        Ok(())
    }

    /// Move ownership to `to`; the old handle dies and a new one is returned.
    pub fn transfer(&mut self, h: RegionHandle, from: usize, to: usize) -> Result<RegionHandle, TrapCode> {
        self.check(h, from)?;
        let slot = &mut self.slots[h.slot as usize];
        if slot.generation == u32::MAX {
            // No fresh generation left: the region cannot move. Treat as exhausted.
            return Err(TrapCode::ResourceLimit);
        }
        slot.generation += 1;
        slot.owner = Some(to);
        let (generation, len) = (slot.generation, slot.bytes.len() as u64);
        self.unhold(from, 1, len);
        self.hold(to, 1, len);
        Ok(RegionHandle {
            slot: h.slot,
            generation,
        })
    }

    /// Free every region `domain` owns (on restart or kill).
    pub fn free_all_of(&mut self, domain: usize, budget: &mut Budget) {
        for s in 0..self.slots.len() as u32 {
            if self.slots[s as usize].owner == Some(domain) {
                self.release_slot(s, budget);
            }
        }
    }

    /// Regions alive now.
    pub fn live(&self) -> u32 {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_regions: 4,
            max_region_bytes: 100,
            max_domain_regions: 3,
            max_domain_region_bytes: 150,
            ..Limits::default()
        }
    }

    #[test]
    fn budgets_bound_creation_and_frees_give_back() {
        let mut budget = Budget::new(240);
        let mut t = RegionTable::new(2, &limits(), alloc_zeroed_filled);
        assert_eq!(
            t.create(0, 101, &mut budget),
            Err(TrapCode::ResourceLimit),
            "per region"
        );
        let a = t.create(0, 100, &mut budget).unwrap();
        assert_eq!(
            t.create(0, 60, &mut budget),
            Err(TrapCode::ResourceLimit),
            "domain bytes"
        );
        let b = t.create(0, 50, &mut budget).unwrap();
        assert_eq!(t.create(0, 0, &mut budget).map(|_| ()), Ok(()));
        assert_eq!(
            t.create(0, 0, &mut budget),
            Err(TrapCode::ResourceLimit),
            "domain count"
        );
        assert_eq!(
            t.create(1, 100, &mut budget),
            Err(TrapCode::ResourceLimit),
            "instance bytes"
        );
        assert_eq!(budget.used(), 150);
        t.free(a, 0, &mut budget).unwrap();
        assert_eq!(budget.used(), 50);
        let c = t.create(1, 100, &mut budget).unwrap();
        // A transfer never fails for budget: domain 1 now holds 150 bytes in two regions.
        let b1 = t.transfer(b, 0, 1).unwrap();
        assert_eq!(t.create(1, 1, &mut budget), Err(TrapCode::ResourceLimit));
        t.free_all_of(1, &mut budget);
        assert_eq!(t.check(c, 1), Err(TrapCode::RegionInvalid));
        assert_eq!(t.check(b1, 1), Err(TrapCode::RegionInvalid));
        assert_eq!((t.live(), budget.used()), (1, 0));
    }

    #[test]
    fn a_host_that_says_no_is_resource_limit() {
        let mut budget = Budget::new(u64::MAX);
        let mut t = RegionTable::new(1, &limits(), |_| None);
        assert_eq!(t.create(0, 10, &mut budget), Err(TrapCode::ResourceLimit));
        assert_eq!((t.live(), budget.used()), (0, 0));
    }
}
