//! The region table: buffers outside every linear memory, each owned by exactly
//! one domain. A handle is (slot, generation); freeing or transferring a region
//! bumps the generation, so every older handle is dead. A slot whose generation
//! reaches `u32::MAX` is retired, so generations never wrap.

use crate::trap::TrapCode;

use crate::value::RegionHandle;

struct Slot {
    owner: Option<usize>,
    generation: u32,
    bytes: Vec<u8>,
}

pub struct RegionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: u32,
    max_live: u32,
    max_bytes: u32,
}

impl RegionTable {
    pub fn new(max_live: u32, max_bytes: u32) -> Self {
        RegionTable {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            max_live,
            max_bytes,
        }
    }

    pub fn create(&mut self, owner: usize, len: u32) -> Result<RegionHandle, TrapCode> {
        if len > self.max_bytes || self.live >= self.max_live {
            return Err(TrapCode::ResourceLimit);
        }
        let bytes = vec![0u8; len as usize];
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
        Ok(RegionHandle {
            slot,
            generation: self.slots[slot as usize].generation,
        })
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

    pub fn bytes_mut(&mut self, h: RegionHandle, domain: usize) -> Result<&mut Vec<u8>, TrapCode> {
        self.slot(h, domain)?;
        Ok(&mut self.slots[h.slot as usize].bytes)
    }

    /// Check that `domain` owns the region through this handle.
    pub fn check(&self, h: RegionHandle, domain: usize) -> Result<(), TrapCode> {
        self.slot(h, domain).map(|_| ())
    }

    fn retire_or_recycle(&mut self, s: u32) {
        let slot = &mut self.slots[s as usize];
        slot.owner = None;
        slot.bytes = Vec::new();
        if slot.generation == u32::MAX {
            return; // retired for good
        }
        slot.generation += 1;
        self.free.push(s);
    }

    pub fn free(&mut self, h: RegionHandle, domain: usize) -> Result<(), TrapCode> {
        self.check(h, domain)?;
        self.retire_or_recycle(h.slot);
        self.live -= 1;
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
        Ok(RegionHandle {
            slot: h.slot,
            generation: slot.generation,
        })
    }

    /// Free every region `domain` owns (on restart or kill).
    pub fn free_all_of(&mut self, domain: usize) {
        for s in 0..self.slots.len() as u32 {
            if self.slots[s as usize].owner == Some(domain) {
                self.retire_or_recycle(s);
                self.live -= 1;
            }
        }
    }

    /// Regions alive now.
    pub fn live(&self) -> u32 {
        self.live
    }
}
