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
