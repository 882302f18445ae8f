//! Named random streams: every stochastic process draws from its own generator, derived
//! from (master seed, replication, stream name).
//!
//! Changing one firm's parameters therefore never shifts the draws of another process,
//! and replication `r` of every sweep point sees the same streams (common random numbers).
//! The derivation is a fixed hash (FNV-1a over the name, SplitMix64 mixing), stable across
//! platforms and versions of Rust: it is part of the reproducibility promise.

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// The generator type of every stream.
pub type Stream = Pcg64Mcg;

/// SplitMix64 finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a hash of a stream name.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

/// The stream called `name` for replication `replication` of a run seeded with `seed`.
pub fn stream(seed: u64, replication: u32, name: &str) -> Stream {
    let base = mix(seed ^ mix(u64::from(replication).wrapping_add(0x5EED)));
    let hi = mix(base ^ name_hash(name));
    let lo = mix(hi ^ 0xD1B5_4A32_D192_ED03);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_le_bytes());
    bytes[8..].copy_from_slice(&lo.to_le_bytes());
    Pcg64Mcg::from_seed(bytes)
}

/// A seed derived from a master seed and a point index (sweeps with `crn = false`).
pub fn derive_seed(seed: u64, salt: u64) -> u64 {
    mix(seed ^ mix(salt.wrapping_add(0xC0FF_EE00)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_name_replication_and_seed() {
        let draw = |s: u64, r: u32, n: &str| stream(s, r, n).random::<u64>();
        let a = draw(1, 0, "tenders/china_mobile");
        assert_eq!(a, draw(1, 0, "tenders/china_mobile"));
        assert_ne!(a, draw(1, 0, "tenders/china_telecom"));
        assert_ne!(a, draw(1, 1, "tenders/china_mobile"));
        assert_ne!(a, draw(2, 0, "tenders/china_mobile"));
    }

    #[test]
    fn stream_values_are_pinned() {
        // The derivation is part of the reproducibility promise: this value must not change
        // between versions, or old results stop being reproducible.
        let v = stream(42, 3, "rd/thead").random::<u64>();
        assert_eq!(v, stream(42, 3, "rd/thead").random::<u64>());
        assert_eq!(name_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(mix(0), 0xE220_A839_7B1D_CDAF);
    }
}
