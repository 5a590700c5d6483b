//! Trap codes: why a computation stopped. Shared by the interpreter, the runtime and
//! the failure successor of `call_cap` (which receives the code as an i32).

use std::fmt;

/// Why execution trapped. The numeric codes are stable: they are what a
/// `call_cap` failure successor receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapCode {
    /// The `trap` instruction.
    Unreachable,
    IntDivideByZero,
    /// `INT_MIN / -1`, or a float-to-int conversion whose result does not fit.
    IntOverflow,
    /// A float-to-int conversion of NaN.
    BadConversion,
    /// A memory or region access outside its bounds.
    OutOfBounds,
    FuelExhausted,
    CallDepthExceeded,
    /// A call through a revoked capability.
    CapRevoked,
    /// A call into a domain that is faulted or dead.
    DomainUnavailable,
    /// A region handle that this domain does not own (freed or transferred).
    RegionInvalid,
    /// A region larger than the runtime allows, or too many regions.
    ResourceLimit,
    /// Copied arguments or results do not fit the receiving domain's inbox.
    InboxOverflow,
    /// Restart of a domain that is running further up the call stack.
    DomainBusy,
    /// A host function failed (e.g. an ungranted file).
    HostError,
    /// `call_indirect` with an index past the end of the table.
    TableOutOfBounds,
    /// `call_indirect` to an empty table entry.
    IndirectCallNull,
    /// `call_indirect` to a function whose signature differs from the call's.
    IndirectCallType,
    /// A host function ended the domain's activation with an exit status (WASI
    /// `proc_exit`); the host sees `RunError::Exit`, a `call_cap` caller this code.
    Exit,
}

impl TrapCode {
    pub const ALL: [TrapCode; 18] = [
        TrapCode::Unreachable,
        TrapCode::IntDivideByZero,
        TrapCode::IntOverflow,
        TrapCode::BadConversion,
        TrapCode::OutOfBounds,
        TrapCode::FuelExhausted,
        TrapCode::CallDepthExceeded,
        TrapCode::CapRevoked,
        TrapCode::DomainUnavailable,
        TrapCode::RegionInvalid,
        TrapCode::ResourceLimit,
        TrapCode::InboxOverflow,
        TrapCode::DomainBusy,
        TrapCode::HostError,
        TrapCode::TableOutOfBounds,
        TrapCode::IndirectCallNull,
        TrapCode::IndirectCallType,
        TrapCode::Exit,
    ];

    /// The code a failure successor receives (never 0).
    pub fn code(self) -> i32 {
        match self {
            TrapCode::Unreachable => 1,
            TrapCode::IntDivideByZero => 2,
            TrapCode::IntOverflow => 3,
            TrapCode::BadConversion => 4,
            TrapCode::OutOfBounds => 5,
            TrapCode::FuelExhausted => 6,
            TrapCode::CallDepthExceeded => 7,
            TrapCode::CapRevoked => 8,
            TrapCode::DomainUnavailable => 9,
            TrapCode::RegionInvalid => 10,
            TrapCode::ResourceLimit => 11,
            TrapCode::InboxOverflow => 12,
            TrapCode::DomainBusy => 13,
            TrapCode::HostError => 14,
            TrapCode::TableOutOfBounds => 15,
            TrapCode::IndirectCallNull => 16,
            TrapCode::IndirectCallType => 17,
            TrapCode::Exit => 18,
        }
    }

    pub fn from_code(code: i32) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The name used in test headers and messages, e.g. `int_divide_by_zero`.
    pub fn name(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntDivideByZero => "int_divide_by_zero",
            TrapCode::IntOverflow => "int_overflow",
            TrapCode::BadConversion => "bad_conversion",
            TrapCode::OutOfBounds => "out_of_bounds",
            TrapCode::FuelExhausted => "fuel_exhausted",
            TrapCode::CallDepthExceeded => "call_depth_exceeded",
            TrapCode::CapRevoked => "cap_revoked",
            TrapCode::DomainUnavailable => "domain_unavailable",
            TrapCode::RegionInvalid => "region_invalid",
            TrapCode::ResourceLimit => "resource_limit",
            TrapCode::InboxOverflow => "inbox_overflow",
            TrapCode::DomainBusy => "domain_busy",
            TrapCode::HostError => "host_error",
            TrapCode::TableOutOfBounds => "table_out_of_bounds",
            TrapCode::IndirectCallNull => "indirect_call_null",
            TrapCode::IndirectCallType => "indirect_call_type",
            TrapCode::Exit => "exit",
        }
    }

    pub fn from_name(name: &str) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
