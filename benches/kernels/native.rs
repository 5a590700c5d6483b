//! Native Rust references for the kernels in `benches/kernels/*.cir`: the same
//! algorithms, step for step, with the same input generators and checksums, so
//! each `run` here returns what the `.cir` kernel returns for the same argument.
//!
//! Shared through `#[path]` by `tests/kernels.rs` (expected results, computed
//! independently of capjit) and `benches/headline.rs` (the native baseline). Inputs
//! and results pass through `black_box` and every `run` is `#[inline(never)]`, so
//! nothing is constant-folded or hoisted out of a timing loop.
#![allow(dead_code)]

use std::hint::black_box;

/// A kernel's native entry: the argument the `.cir` entry takes, the result it returns.
pub type Run = fn(i64) -> i64;

/// The kernels, by file stem, with their native `run`.
pub const KERNELS: [(&str, Run); 5] = [
    ("fib", fib::run),
    ("sieve", sieve::run),
    ("matmul", matmul::run),
    ("crc32", crc32::run),
    ("quicksort", quicksort::run),
];

/// The native reference of kernel `name`.
pub fn by_name(name: &str) -> Option<Run> {
    KERNELS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// `fib.cir`: doubly recursive Fibonacci, `fib(n) = n` below 2.
pub mod fib {
    use super::black_box;

    fn fib(n: i64) -> i64 {
        if n < 2 {
            n
        } else {
            fib(n - 1).wrapping_add(fib(n - 2))
        }
    }

    #[inline(never)]
    pub fn run(n: i64) -> i64 {
        black_box(fib(black_box(n)))
    }
}

/// `sieve.cir`: the number of primes below `n`, sieve of Eratosthenes over one
/// byte per number (zeroed, then marked from `i * i` in steps of `i`).
pub mod sieve {
    use super::black_box;

    #[inline(never)]
    pub fn run(n: i64) -> i64 {
        let n = black_box(n) as u32 as usize;
        let mut composite = vec![0u8; n];
        let mut count = 0i64;
        for i in 2..n {
            if composite[i] == 0 {
                count += 1;
                let mut j = i * i;
                while j < n {
                    composite[j] = 1;
                    j += i;
                }
            }
        }
        black_box(count)
    }
}

/// `matmul.cir`: `C = A * B` for `n x n` row-major f64 matrices, `i, j, k` order
/// with a dot-product accumulator; entries are small integers, so every sum is exact.
pub mod matmul {
    use super::black_box;

    pub fn a_entry(k: i64) -> f64 {
        ((k * 7 + 3) % 13 - 6) as f64
    }

    pub fn b_entry(k: i64) -> f64 {
        ((k * 5 + 1) % 11 - 5) as f64
    }

    /// `h = h * 31 + (c as i64)` over `C` in row-major order, wrapping.
    pub fn checksum(c: &[f64]) -> i64 {
        c.iter().fold(0i64, |h, &x| h.wrapping_mul(31).wrapping_add(x as i64))
    }

    pub fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                let mut s = 0.0;
                for k in 0..n {
                    s += a[i * n + k] * b[k * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[inline(never)]
    pub fn run(n: i64) -> i64 {
        let n = black_box(n) as u32 as usize;
        let nn = n * n;
        let a: Vec<f64> = (0..nn as i64).map(a_entry).collect();
        let b: Vec<f64> = (0..nn as i64).map(b_entry).collect();
        let c = multiply(&a, &b, n);
        black_box(checksum(&c))
    }
}

/// `crc32.cir`: table-driven CRC-32 (IEEE, reflected, polynomial `0xEDB88320`)
/// over `n` bytes from an LCG; the table is built first, as the kernel does.
pub mod crc32 {
    use super::black_box;

    /// `x = x * 1103515245 + 12345` (32 bits) from `x = 1`; each byte is `x >> 16`.
    pub fn input(n: usize) -> Vec<u8> {
        let mut x = 1u32;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect()
    }

    pub fn table() -> [u32; 256] {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                // Branch-free `if c & 1 { (c >> 1) ^ POLY } else { c >> 1 }`, as in the kernel.
                let mask = 0u32.wrapping_sub(c & 1);
                c = (c >> 1) ^ (0xEDB8_8320 & mask);
            }
            *e = c;
        }
        t
    }

    pub fn crc(table: &[u32; 256], bytes: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in bytes {
            c = table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
        }
        c ^ 0xFFFF_FFFF
    }

    #[inline(never)]
    pub fn run(n: i64) -> i64 {
        let n = black_box(n) as u32 as usize;
        let bytes = input(n);
        let t = table();
        black_box(crc(&t, &bytes) as i64)
    }
}

/// `quicksort.cir`: `n` i64 from a 64-bit LCG, sorted by quicksort (Hoare
/// partition around the middle element; recurse into the smaller side, loop on
/// the larger), then checksummed in order.
pub mod quicksort {
    use super::black_box;

    /// `x = x * 6364136223846793005 + 1442695040888963407` from `x = n`; each element is `x`.
    pub fn input(n: usize) -> Vec<i64> {
        let mut x = n as u64;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                x as i64
            })
            .collect()
    }

    /// Sort `a[lo..=hi]` (signed indices: `hi` may be `lo - 1`).
    pub fn sort(a: &mut [i64], mut lo: i32, mut hi: i32) {
        while lo < hi {
            let p = a[(lo + ((hi - lo) >> 1)) as usize];
            let mut i = lo - 1;
            let mut j = hi + 1;
            loop {
                loop {
                    i += 1;
                    if a[i as usize] >= p {
                        break;
                    }
                }
                loop {
                    j -= 1;
                    if a[j as usize] <= p {
                        break;
                    }
                }
                if i >= j {
                    break;
                }
                a.swap(i as usize, j as usize);
            }
            if j - lo < hi - j {
                sort(a, lo, j);
                lo = j + 1;
            } else {
                sort(a, j + 1, hi);
                hi = j;
            }
        }
    }

    /// `h = h * 31 + a[i]` in index order, wrapping.
    pub fn checksum(a: &[i64]) -> i64 {
        a.iter().fold(0i64, |h, &x| h.wrapping_mul(31).wrapping_add(x))
    }

    #[inline(never)]
    pub fn run(n: i64) -> i64 {
        let n = black_box(n) as u32 as usize;
        let mut a = input(n);
        sort(&mut a, 0, n as i32 - 1);
        black_box(checksum(&a))
    }
}
