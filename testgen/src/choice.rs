//! Sources of choices: every decision a generator makes is a number below `n`.
//!
//! A source that answers 0 everywhere makes the simplest program (the helpers
//! below keep that: `chance` is false on 0, `weighted` takes the first option with
//! a weight), so shrinking the answers shrinks the program.

/// Where a generator's decisions come from.
pub trait Choices {
    /// A number in `[0, n)`; 0 when `n <= 1`.
    fn below(&mut self, n: u32) -> u32;

    /// True with about `pct` percent; false when the source answers 0.
    fn chance(&mut self, pct: u32) -> bool {
        self.below(100) >= 100 - pct.min(100)
    }

    /// One of `xs` (not empty).
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T
    where
        Self: Sized,
    {
        xs[self.below(xs.len() as u32) as usize].clone()
    }

    /// An index into `weights`, each chosen with its weight's share; the first
    /// option with a non-zero weight when the source answers 0.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A number in `lo..=hi` (`lo` when the source answers 0).
    fn in_range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi);
        let span = hi - lo;
        if span < u32::MAX as u64 {
            lo + self.below(span as u32 + 1) as u64
        } else if span == u64::MAX {
            self.bits64()
        } else {
            lo + self.bits64() % (span + 1)
        }
    }

    /// 32 random bits (two choices of 16 bits).
    fn bits32(&mut self) -> u32 {
        let hi = self.below(1 << 16);
        let lo = self.below(1 << 16);
        (hi << 16) | lo
    }

    /// 64 random bits.
    fn bits64(&mut self) -> u64 {
        let hi = self.bits32() as u64;
        (hi << 32) | self.bits32() as u64
    }
}

/// Answers from a function `n -> answer` (reduced modulo `n`): proptest's choice
/// vectors, a seeded PRNG, a closure over fuzzer bytes.
pub struct FnChoices<'a> {
    f: &'a mut dyn FnMut(u32) -> u32,
}

impl<'a> FnChoices<'a> {
    pub fn new(f: &'a mut dyn FnMut(u32) -> u32) -> Self {
        FnChoices { f }
    }
}

impl Choices for FnChoices<'_> {
    fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        (self.f)(n) % n
    }
}

/// Answers read from bytes (a fuzzer's input): a choice among `n` options takes
/// the fewest bytes that cover `n` (one byte up to 256 options, two up to 65,536,
/// ...), read big-endian and reduced modulo `n`. Once the bytes are used up every
/// answer is 0, the simplest option, so every input makes a program, the same one
/// every time, and changing a byte changes its choice and what depends on it
/// rather than the whole program.
pub struct ByteChoices<'a> {
    data: &'a [u8],
    used: usize,
}

impl<'a> ByteChoices<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        ByteChoices { data, used: 0 }
    }

    /// A number in `[0, n)`; 0 when `n <= 1` (no byte is used) or the bytes are gone.
    pub fn choose(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let span = n - 1;
        let mut x: u64 = 0;
        let mut k = 0;
        while k < 4 && (span >> (8 * k)) != 0 {
            let Some(&b) = self.data.get(self.used) else {
                break;
            };
            x = (x << 8) | b as u64;
            self.used += 1;
            k += 1;
        }
        (x % n as u64) as u32
    }

    /// How many bytes the choices have read so far.
    pub fn used(&self) -> usize {
        self.used
    }
}

impl Choices for ByteChoices<'_> {
    fn below(&mut self, n: u32) -> u32 {
        self.choose(n)
    }
}

/// xorshift64*: small, fast and deterministic, for generators run from a seed.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Choices for XorShift {
    /// Draws a number even when `n <= 1`, so the stream does not depend on `n`.
    fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n.max(1) as u64) as u32
    }

    /// A PRNG has no simplest answer to keep: true when the draw is below `pct`.
    fn chance(&mut self, pct: u32) -> bool {
        self.below(100) < pct
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_read_big_endian_as_few_as_cover_n_then_zero() {
        let data = [7u8, 0x01, 0x02, 200, 9];
        let mut c = ByteChoices::new(&data);
        assert_eq!(c.below(1), 0);
        assert_eq!(c.used(), 0, "a choice among one option reads nothing");
        assert_eq!(c.below(10), 7);
        assert_eq!(c.below(1000), 0x0102, "two bytes, big-endian");
        assert_eq!(c.used(), 3);
        assert_eq!(c.below(100), 0, "200 % 100");
        assert_eq!(c.below(1 << 16), 9, "only one byte left");
        assert_eq!((c.below(256), c.below(2), c.used()), (0, 0, 5));
    }

    #[test]
    fn zero_answers_make_the_simplest_choices() {
        let mut zero = |_| 0;
        let mut c = FnChoices::new(&mut zero);
        assert!(!c.chance(99));
        assert_eq!(c.weighted(&[0, 0, 5, 1]), 2);
        assert_eq!(c.pick(&['a', 'b']), 'a');
        assert_eq!(c.in_range(5, 9), 5);
        assert_eq!(c.in_range(3, u64::MAX), 3);
        assert_eq!(c.bits64(), 0);
    }

    #[test]
    fn answers_are_reduced_and_spread() {
        let mut wrap = |_| u32::MAX;
        assert_eq!(FnChoices::new(&mut wrap).below(10), u32::MAX % 10);
        let mut top = |n| n - 1;
        let mut c = FnChoices::new(&mut top);
        assert!(c.chance(1), "the top answer takes a chance");
        assert_eq!(c.weighted(&[1, 2, 3]), 2, "the last option takes the top answers");
        let mut r = XorShift::new(1);
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            seen[r.weighted(&[1, 1, 1, 1])] += 1;
            assert!(r.in_range(10, 20) >= 10);
        }
        assert!(seen.iter().all(|&k| (800..1200).contains(&k)), "{seen:?}");
    }
}
