//! TRUSTED. A domain's tables, as `call_indirect` reads them and the table helpers
//! change them.
//!
//! Invariants protected:
//! - `views[t]` always describes `entries[t]` (its address and length), so
//!   generated code never reads past a table, even after `table.grow` moved it;
//! - an entry of a funcref table is null (`sig` 0) or a function of the same
//!   domain with the signature number the translator gave it; an externref entry
//!   has `sig` 0, so `call_indirect` (verified to use funcref tables only) can
//!   never call through one;
//! - growth is charged to the instance's budget and obtained fallibly; what a
//!   restart takes back is given back.

use capjit_ir::exec::Limits;
use capjit_ir::resources::{self, Budget};
use capjit_ir::{Domain, RefType, TrapCode};

use crate::ctx::{TableEntry, TableView, REF_NULL};
use crate::shared::Shared;

pub struct Tables {
    /// Each table's entries.
    entries: Vec<Vec<TableEntry>>,
    /// What generated code reads (`ctx.tables` points here; never reallocated).
    views: Shared<[TableView]>,
    types: Vec<RefType>,
    /// Each table's size limit: its maximum capped by the limits.
    maxima: Vec<u32>,
    /// The entries as linked, which restarting copies back.
    init: Vec<Box<[TableEntry]>>,
    /// Passive element segments and whether `elem.drop` emptied each.
    elems: Vec<Box<[TableEntry]>>,
    dropped: Vec<bool>,
    /// Each function's signature number (what a funcref to it stores with it).
    sigs: Box<[u64]>,
}

const NULL: TableEntry = TableEntry { sig: 0, item: REF_NULL };

fn range(len: usize, start: u32, n: u32) -> Result<std::ops::Range<usize>, TrapCode> {
    let end = start as u64 + n as u64;
    if end > len as u64 {
        return Err(TrapCode::TableOutOfBounds);
    }
    Ok(start as usize..end as usize)
}

impl Tables {
    /// The tables of verified domain `d`, whose functions have the signature
    /// numbers `sigs` (all non-zero).
    pub fn new(d: &Domain, sigs: Box<[u64]>, limits: &Limits) -> Tables {
        let mut t = Tables {
            entries: Vec::new(),
            views: Shared::from_box(
                vec![
                    TableView {
                        base: std::ptr::null(),
                        len: 0
                    };
                    d.tables.len()
                ]
                .into(),
            ),
            types: d.tables.iter().map(|t| t.elem).collect(),
            maxima: d
                .tables
                .iter()
                .map(|t| resources::table_max(t.maximum, limits))
                .collect(),
            init: Vec::new(),
            elems: Vec::new(),
            dropped: vec![false; d.passive_elems.len()],
            sigs,
        };
        t.init = d
            .tables
            .iter()
            .map(|table| t.entries_of(table.elem, &table.init))
            .collect();
        t.elems = d.passive_elems.iter().map(|s| t.entries_of(s.elem, &s.items)).collect();
        t.entries = t.init.iter().map(|e| e.to_vec()).collect();
        t.sync();
        t
    }

    fn entries_of(&self, elem: RefType, items: &[Option<u32>]) -> Box<[TableEntry]> {
        items
            .iter()
            .map(|i| self.entry(elem, i.map_or(REF_NULL, u64::from)))
            .collect()
    }

    /// The entry a reference value `item` of type `elem` is in a table. Verified: a
    /// funcref is null or a function of the domain (host arguments are checked on
    /// entry); anything else would be null.
    fn entry(&self, elem: RefType, item: u64) -> TableEntry {
        match elem {
            RefType::Func => match self.sigs.get(item as usize) {
                Some(&sig) => TableEntry { sig, item },
                None => NULL,
            },
            RefType::Extern => TableEntry { item, ..NULL },
        }
    }

    /// Where generated code finds the views.
    pub fn views_ptr(&self) -> *const TableView {
        self.views.as_ptr().cast()
    }

    /// Make every view describe its table again, after any change.
    fn sync(&mut self) {
        for (view, entries) in self.views.iter_mut().zip(&self.entries) {
            *view = TableView {
                base: entries.as_ptr(),
                len: entries.len() as u64,
            };
        }
    }

    pub fn get(&self, t: usize, i: u32) -> Result<u64, TrapCode> {
        let entries = &self.entries[t];
        entries
            .get(i as usize)
            .map(|e| e.item)
            .ok_or(TrapCode::TableOutOfBounds)
    }

    pub fn set(&mut self, t: usize, i: u32, item: u64) -> Result<u64, TrapCode> {
        self.fill(t, i, item, 1)
    }

    pub fn size(&self, t: usize) -> u32 {
        self.entries[t].len() as u32
    }

    /// `table.grow`: the old size, or -1 past the maximum, the budget or the host.
    pub fn grow(&mut self, t: usize, item: u64, delta: u32, budget: &mut Budget) -> i32 {
        let entry = self.entry(self.types[t], item);
        let entries = &mut self.entries[t];
        let old = budget.grow_table(entries.len(), delta, self.maxima[t], |n| {
            let supplied = entries.try_reserve_exact(n).is_ok();
            if supplied {
                entries.resize(entries.len() + n, entry);
            }
            supplied
        });
        self.sync();
        old
    }

    pub fn fill(&mut self, t: usize, dst: u32, item: u64, len: u32) -> Result<u64, TrapCode> {
        let entry = self.entry(self.types[t], item);
        let r = range(self.entries[t].len(), dst, len)?;
        self.entries[t][r].fill(entry);
        self.sync();
        Ok(0)
    }

    /// `table.copy` from table `from` at `src` to table `t` at `dst`.
    pub fn copy(&mut self, t: usize, from: usize, dst: u32, src: u32, len: u32) -> Result<u64, TrapCode> {
        let s = range(self.entries[from].len(), src, len)?;
        let d = range(self.entries[t].len(), dst, len)?;
        if t == from {
            self.entries[t].copy_within(s, d.start);
        } else {
            let moved = self.entries[from][s].to_vec();
            self.entries[t][d].copy_from_slice(&moved);
        }
        self.sync();
        Ok(0)
    }

    /// `table.init` from passive segment `seg` (verified to exist; a dropped one is empty).
    pub fn init(&mut self, t: usize, seg: usize, dst: u32, src: u32, len: u32) -> Result<u64, TrapCode> {
        let items: &[TableEntry] = if self.dropped[seg] { &[] } else { &self.elems[seg] };
        let s = range(items.len(), src, len)?;
        let d = range(self.entries[t].len(), dst, len)?;
        self.entries[t][d].copy_from_slice(&items[s]);
        self.sync();
        Ok(0)
    }

    pub fn drop_elem(&mut self, seg: usize) {
        self.dropped[seg] = true;
    }

    /// Back to the declared entries; what growth charged goes back to `budget`.
    pub fn restart(&mut self, budget: &mut Budget) {
        for (entries, init) in self.entries.iter_mut().zip(&self.init) {
            budget.release_table(entries.len(), init.len());
            *entries = init.to_vec();
        }
        self.dropped.fill(false);
        self.sync();
    }
}
