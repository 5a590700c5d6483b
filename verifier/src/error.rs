//! Verification errors: where (domain, function, block, instruction, source span)
//! and what (a typed kind whose message says what was expected and what was found).

use std::fmt;

use capjit_ir::{Fact, Span, Value};

/// The part of a block an error points at; ordered as in the text (parameters,
/// instructions, terminator).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Site {
    Param(u32),
    Inst(u32),
    Terminator,
}

/// Where an error is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub domain: String,
    pub function: Option<String>,
    pub block: Option<u32>,
    pub site: Option<Site>,
    /// Source span, when the module was parsed from text.
    pub span: Option<Span>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "domain `{}`", self.domain)?;
        if let Some(func) = &self.function {
            write!(f, ", function `{func}`")?;
        }
        if let Some(b) = self.block {
            write!(f, ", block{b}")?;
        }
        match self.site {
            Some(Site::Param(i)) => write!(f, ", parameter {i}"),
            Some(Site::Inst(i)) => write!(f, ", instruction {i}"),
            Some(Site::Terminator) => write!(f, ", terminator"),
            None => Ok(()),
        }
    }
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("too many {what}: {found}, the limit is {limit}")]
    LimitExceeded { what: &'static str, limit: u64, found: u64 },
    #[error("{what} `{name}` is defined more than once")]
    DuplicateName { what: &'static str, name: String },
    #[error("bad memory layout: {0}")]
    BadMemory(String),
    #[error("import `{import}` names {target}, which does not exist")]
    LinkMissing { import: String, target: String },
    #[error("import `{import}` expects {expected}, but `{target}` has {found}")]
    LinkSignatureMismatch {
        import: String,
        target: String,
        expected: String,
        found: String,
    },
    #[error("capabilities cannot cross a domain boundary, but {0} carries one")]
    CapCrossesDomains(String),
    #[error("references cannot cross a domain boundary, but {0} carries one")]
    RefCrossesDomains(String),
    #[error("function has no blocks")]
    EmptyFunction,
    #[error("branch to block{0}, which does not exist in this function")]
    UnknownBlock(u32),
    #[error("the entry block cannot be a branch target")]
    EntryTargeted,
    #[error("block{0} is unreachable from the entry block")]
    Unreachable(u32),
    #[error("{0} is above the limit of value numbers")]
    ValueTooLarge(Value),
    #[error("{0} is defined more than once")]
    DuplicateDefinition(Value),
    #[error("{0} is used but never defined")]
    UndefinedValue(Value),
    #[error("{0} is used where its definition does not dominate the use")]
    NotDominated(Value),
    #[error("type mismatch in {what}: expected {expected}, found {found}")]
    TypeMismatch {
        what: String,
        expected: String,
        found: String,
    },
    #[error("wrong number of {what}: expected {expected}, found {found}")]
    ArityMismatch {
        what: String,
        expected: usize,
        found: usize,
    },
    #[error("`{op}` is not defined for {ty}")]
    BadOpType { op: String, ty: String },
    #[error("call to function #{0}, which does not exist in this domain")]
    UnknownFunction(u32),
    #[error("import #{0} does not exist in this domain")]
    UnknownImport(u32),
    #[error("global #{0} does not exist in this domain")]
    UnknownGlobal(u32),
    #[error("passive data segment #{0} does not exist in this domain")]
    UnknownDataSegment(u32),
    #[error("global `{0}` is immutable: only a `global mut` can be set")]
    ImmutableGlobal(String),
    #[error("table #{0} does not exist in this domain")]
    UnknownTable(u32),
    #[error("passive element segment #{0} does not exist in this domain")]
    UnknownElemSegment(u32),
    #[error("{what} entry {entry} {why}")]
    BadTableEntry { what: String, entry: usize, why: String },
    #[error("fact {fact} on {value}, which is {ty}: facts apply to integers only")]
    FactOnWrongType { fact: Fact, value: Value, ty: String },
    #[error("fact {fact} on {value} is malformed: {why}")]
    FactMalformed { fact: Fact, value: Value, why: String },
    #[error("fact {fact} on {value} does not follow: {why}")]
    FactNotProven { fact: Fact, value: Value, why: String },
}

impl ErrorKind {
    /// A stable name for the kind, used by the attack corpus headers.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::LimitExceeded { .. } => "limit_exceeded",
            ErrorKind::DuplicateName { .. } => "duplicate_name",
            ErrorKind::BadMemory(_) => "bad_memory",
            ErrorKind::LinkMissing { .. } => "link_missing",
            ErrorKind::LinkSignatureMismatch { .. } => "link_signature_mismatch",
            ErrorKind::CapCrossesDomains(_) => "cap_crosses_domains",
            ErrorKind::RefCrossesDomains(_) => "ref_crosses_domains",
            ErrorKind::EmptyFunction => "empty_function",
            ErrorKind::UnknownBlock(_) => "unknown_block",
            ErrorKind::EntryTargeted => "entry_targeted",
            ErrorKind::Unreachable(_) => "unreachable_block",
            ErrorKind::ValueTooLarge(_) => "value_too_large",
            ErrorKind::DuplicateDefinition(_) => "duplicate_definition",
            ErrorKind::UndefinedValue(_) => "undefined_value",
            ErrorKind::NotDominated(_) => "not_dominated",
            ErrorKind::TypeMismatch { .. } => "type_mismatch",
            ErrorKind::ArityMismatch { .. } => "arity_mismatch",
            ErrorKind::BadOpType { .. } => "bad_op_type",
            ErrorKind::UnknownFunction(_) => "unknown_function",
            ErrorKind::UnknownImport(_) => "unknown_import",
            ErrorKind::UnknownGlobal(_) => "unknown_global",
            ErrorKind::UnknownDataSegment(_) => "unknown_data_segment",
            ErrorKind::ImmutableGlobal(_) => "immutable_global",
            ErrorKind::UnknownTable(_) => "unknown_table",
            ErrorKind::UnknownElemSegment(_) => "unknown_elem_segment",
            ErrorKind::BadTableEntry { .. } => "bad_table_entry",
            ErrorKind::FactOnWrongType { .. } => "fact_on_wrong_type",
            ErrorKind::FactMalformed { .. } => "fact_malformed",
            ErrorKind::FactNotProven { .. } => "fact_not_proven",
        }
    }
}

/// One verification error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {kind}")]
pub struct VerifyError {
    pub location: Location,
    pub kind: ErrorKind,
}
