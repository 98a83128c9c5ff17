//! The simulation's random numbers: MT19937, seeded exactly as CPython's `random.seed(n)`
//! seeds it, with CPython's `random()` on top.
//!
//! OSTEP's simulators are Python scripts that draw from `random.random()` after
//! `random.seed(seed)`. Using the same generator, seeded the same way, lets the simulation
//! reproduce their choices: `paging-policy.py -p RAND -s N` evicts the same pages as
//! [`ReplacePolicy::Random`](super::ReplacePolicy) with seed N, and
//! `paging-linear-translate.py -s N` prints the same exercise as [`super::ostep`].

/// CPython's Mersenne Twister (MT19937, Matsumoto & Nishimura 1998).
#[derive(Clone, Debug)]
pub struct Mt19937 {
    mt: [u32; N],
    i: usize,
}

const N: usize = 624;
const M: usize = 397;

impl Mt19937 {
    /// Seeded as CPython's `random.seed(seed)` for a non-negative integer: `init_by_array` over
    /// the seed's 32-bit words, least significant first (one zero word for 0).
    pub fn new(seed: u64) -> Mt19937 {
        let lo = seed as u32;
        let hi = (seed >> 32) as u32;
        if hi == 0 {
            Mt19937::by_array(&[lo])
        } else {
            Mt19937::by_array(&[lo, hi])
        }
    }

    fn by_seed(s: u32) -> Mt19937 {
        let mut mt = [0u32; N];
        mt[0] = s;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, i: N }
    }

    fn by_array(key: &[u32]) -> Mt19937 {
        let mut g = Mt19937::by_seed(19_650_218);
        let mt = &mut g.mt;
        let (mut i, mut j) = (1usize, 0usize);
        let mut k = N.max(key.len());
        while k > 0 {
            let x = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ x.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
            k -= 1;
        }
        k = N - 1;
        while k > 0 {
            let x = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ x.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            k -= 1;
        }
        mt[0] = 0x8000_0000;
        g
    }

    /// The next 32 random bits (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.i >= N {
            for k in 0..N {
                let y = (self.mt[k] & 0x8000_0000) | (self.mt[(k + 1) % N] & 0x7fff_ffff);
                let mut v = self.mt[(k + M) % N] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[k] = v;
            }
            self.i = 0;
        }
        let mut y = self.mt[self.i];
        self.i += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// CPython's `random.random()`: 53 random bits as a float in `[0, 1)`.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `int(n * random.random())`, as OSTEP's scripts pick an index below `n` (0 for `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        let x = (n as f64 * self.random()) as u64;
        x.min(n.saturating_sub(1))
    }
}
