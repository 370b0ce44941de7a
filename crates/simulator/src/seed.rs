//! Deterministic randomness: every random stream is a ChaCha8 generator keyed by SHA-256 of
//! the park seed and the stream's name, so a value depends only on what it describes (an
//! enterprise, a day), never on the order in which things were generated.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// Domain-separation prefix of every derived seed; bump the version to change every output.
const DOMAIN: &[u8] = b"tanji-simulator/v1\n";

/// A 32-byte secret derived from the park seed and a list of labels (length-prefixed, so
/// `["ab", "c"]` and `["a", "bc"]` differ).
pub fn derive(seed: u64, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seed.to_le_bytes());
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A random stream named by `parts`.
pub fn stream(seed: u64, parts: &[&[u8]]) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive(seed, parts))
}

/// A standard normal draw (Box–Muller; one of the pair is discarded to keep streams simple).
pub fn normal(rng: &mut impl Rng) -> f64 {
    // 1 − U is in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_length_prefixed() {
        assert_ne!(derive(1, &[b"ab", b"c"]), derive(1, &[b"a", b"bc"]));
        assert_ne!(derive(1, &[b"x"]), derive(2, &[b"x"]));
        assert_eq!(derive(1, &[b"x"]), derive(1, &[b"x"]));
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = stream(3, &[b"test"]);
        let xs: Vec<f64> = (0..20_000).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }
}
