//! The `run` command's resource limits: one flag per field of `Limits`, sizes with
//! an optional unit (`64KiB`, `16MiB`, `1GiB`, or plain bytes), defaults shown in
//! `--help`.

use capjit::ir::exec::Limits;
use capjit::ir::PAGE_SIZE;

#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Limits (a domain that exceeds one gets -1 or a trap; the host is never at risk)")]
pub struct LimitArgs {
    /// Fuel each domain starts with (spent at function entries and backward
    /// branches); a domain that runs out traps `fuel_exhausted`. Default: no limit.
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Deepest call nesting allowed (direct and inter-domain calls together).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_call_depth)]
    pub max_call_depth: u32,
    /// Linear memory one domain may grow to (whole 64 KiB pages; less than its
    /// declared maximum makes `memory.grow` return -1 sooner).
    #[arg(long, value_name = "SIZE", value_parser = parse_pages, default_value = "1GiB")]
    pub max_memory: u32,
    /// Linear memory plus region bytes of all domains together.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4GiB")]
    pub max_instance_memory: u64,
    /// Bytes one region may hold.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_u32, default_value = "256MiB")]
    pub max_region_size: u32,
    /// Region bytes one domain may hold at once.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1GiB")]
    pub max_domain_region_bytes: u64,
    /// Regions one domain may hold at once.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_domain_regions)]
    pub max_domain_regions: u32,
    /// Regions alive at once, across all domains.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_regions)]
    pub max_regions: u32,
    /// Function table entries one domain may declare.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_table_entries)]
    pub max_table_entries: u32,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel.unwrap_or(Limits::UNLIMITED_FUEL),
            max_call_depth: self.max_call_depth,
            max_memory_pages: self.max_memory,
            max_table_entries: self.max_table_entries,
            max_region_bytes: self.max_region_size,
            max_domain_regions: self.max_domain_regions,
            max_domain_region_bytes: self.max_domain_region_bytes,
            max_regions: self.max_regions,
            max_instance_bytes: self.max_instance_memory,
        }
    }
}

/// A size in whole 64 KiB pages, at most 4 GiB.
fn parse_pages(text: &str) -> Result<u32, String> {
    let pages = parse_size(text)? / PAGE_SIZE;
    u32::try_from(pages)
        .ok()
        .filter(|&p| p <= 65536)
        .ok_or_else(|| format!("`{text}` is more than 4GiB (65536 pages)"))
}

fn parse_size_u32(text: &str) -> Result<u32, String> {
    u32::try_from(parse_size(text)?).map_err(|_| format!("`{text}` is more than {} bytes", u32::MAX))
}

/// `N`, `NKiB`/`NK`, `NMiB`/`NM`, `NGiB`/`NG` (powers of 1024), case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 65536, 64KiB, 16MiB, 1GiB)"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use KiB, MiB or GiB)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("1TiB").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("99999999999G").is_err());
        assert_eq!(parse_pages("1GiB"), Ok(16384));
        assert_eq!(parse_pages("100000"), Ok(1), "whole pages, rounded down");
        assert!(parse_pages("5GiB").is_err());
        assert!(parse_size_u32("4GiB").is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn defaults_are_the_librarys_but_fuel() {
        use clap::Parser;
        let parsed = Cli::parse_from(["capjit"]).limits.limits();
        assert_eq!(parsed.fuel, Limits::UNLIMITED_FUEL, "no fuel limit unless --fuel");
        assert_eq!(
            Limits {
                fuel: Limits::default().fuel,
                ..parsed
            },
            Limits::default()
        );
        let limited = Cli::parse_from(["capjit", "--fuel", "50"]).limits.limits();
        assert_eq!(limited.fuel, 50);
    }
}
