//! Randomness as a parameter.
//!
//! The core never reaches for a random source itself: every operation that
//! needs random bytes takes `&mut dyn Entropy`. Hosts pass [`OsEntropy`]
//! (feature `getrandom`) or a closure; tests pass [`SeededEntropy`].

use sha2::{Digest, Sha256};

/// A source of random bytes.
pub trait Entropy {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Entropy for F {
    fn fill(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}

/// The operating system's CSPRNG, through `getrandom`.
#[cfg(feature = "getrandom")]
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

#[cfg(feature = "getrandom")]
impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        // An OS RNG failure is unrecoverable and must not yield predictable
        // secrets; getrandom documents it as practically impossible once the
        // OS is up.
        if getrandom::fill(dest).is_err() {
            panic!("the operating system's random source failed");
        }
    }
}

/// Deterministic bytes from a 32-byte seed (SHA-256 in counter mode).
/// For tests and reproducible vectors only — never for real secrets.
#[derive(Clone, Debug)]
pub struct SeededEntropy {
    seed: [u8; 32],
    counter: u64,
}

impl SeededEntropy {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: [u8; 32]) -> SeededEntropy {
        SeededEntropy { seed, counter: 0 }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new().chain_update(self.seed).chain_update(self.counter.to_be_bytes()).finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

/// `N` random bytes.
pub(crate) fn random<const N: usize>(entropy: &mut dyn Entropy) -> [u8; N] {
    let mut buf = [0u8; N];
    entropy.fill(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic_and_advances() {
        let mut a = SeededEntropy::new([1; 32]);
        let mut b = SeededEntropy::new([1; 32]);
        let x: [u8; 40] = random(&mut a);
        let y: [u8; 40] = random(&mut b);
        assert_eq!(x, y);
        let z: [u8; 40] = random(&mut a);
        assert_ne!(x, z);
    }

    #[test]
    fn closures_are_entropy() {
        let mut calls = 0;
        let mut f = |d: &mut [u8]| {
            calls += 1;
            d.fill(4)
        };
        let v: [u8; 3] = random(&mut f);
        assert_eq!(v, [4; 3]);
        assert_eq!(calls, 1);
    }
}
