//! A small seeded random generator: enough randomness for a workload, no dependency.

/// xorshift64*.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator whose sequence `seed` fixes.
    pub(crate) fn seeded(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A multiplier around 1 with a long right tail, as latencies have.
    pub(crate) fn log_normal(&mut self) -> f64 {
        let (a, b) = (self.unit().max(1e-12), self.unit());
        let normal = (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos();
        (0.6 * normal).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn a_seed_fixes_the_sequence_and_draws_stay_in_range() {
        let (mut a, mut b) = (Rng::seeded(7), Rng::seeded(7));
        for _ in 0..1_000 {
            assert_eq!(a.next(), b.next());
            assert!(a.below(6) < 6);
            let unit = a.unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
            assert!(a.log_normal() > 0.0);
            b.below(6);
            b.unit();
            b.log_normal();
        }
        assert_ne!(Rng::seeded(7).next(), Rng::seeded(8).next());
    }
}
