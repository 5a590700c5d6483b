//! IR names for Wasm names. IR names are identifiers (`[A-Za-z_][A-Za-z0-9_]*` here,
//! a subset of the IR's words); Wasm names are any UTF-8 string, so they are mangled.

use std::collections::HashSet;
use std::fmt::Write;

/// An identifier for any string: ASCII letters, digits and `_` stay; every other
/// character becomes `_xHEX_` (its code point); a leading digit or an empty name
/// gets a `_` in front. `i32.add` becomes `i32_x2e_add`.
pub fn mangle(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            let _ = write!(out, "_x{:x}_", c as u32);
        }
    }
    out
}

/// Names already taken in one namespace; hands out unique ones.
#[derive(Default)]
pub struct NameSet {
    taken: HashSet<String>,
}

impl NameSet {
    /// `base`, or `base_1`, `base_2`, ... for the first one not taken yet.
    pub fn claim(&mut self, base: &str) -> String {
        if self.taken.insert(base.to_string()) {
            return base.to_string();
        }
        let mut n = 1u64;
        loop {
            let name = format!("{base}_{n}");
            if self.taken.insert(name.clone()) {
                return name;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_to_identifiers() {
        assert_eq!(mangle("main"), "main");
        assert_eq!(mangle("i32.add"), "i32_x2e_add");
        assert_eq!(mangle(""), "_");
        assert_eq!(mangle("1x"), "_1x");
        assert_eq!(mangle("\u{2603}"), "_x2603_");
    }

    #[test]
    fn claims_unique_names() {
        let mut s = NameSet::default();
        assert_eq!(s.claim("f"), "f");
        assert_eq!(s.claim("f"), "f_1");
        assert_eq!(s.claim("f_1"), "f_1_1");
        assert_eq!(s.claim("f"), "f_2");
    }
}
