//! A fast, non-cryptographic hasher (the Fx hash of rustc) for the
//! engine's lookups on every decision. The keys are the register's own ids,
//! inserted when the engine is built, so hash flooding is not a concern.

use std::hash::{BuildHasher, Hasher};

/// Builds [`Fx`] hashers.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxBuild;

impl BuildHasher for FxBuild {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

/// The Fx hash: rotate, xor, multiply, one word at a time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fx(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail as a little-endian word, byte by byte: the same value
            // as copying it into a zeroed word, without a `memcpy` call
            // (ids are short: most of a key is its tail).
            let w = rest
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, b)| w | (u64::from(*b) << (8 * i)));
            self.add(w);
        }
        // The length, so that zero padding cannot make `abc` and `abc\0` alike.
        self.add(bytes.len() as u64);
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits depending on the low input bits
        // only: ids that differ in their last characters (`L0000001`,
        // `L0000002`) would share hashbrown's bucket bits (the low ones) and
        // probe long chains. A final mix (murmur3's) spreads every bit over
        // the whole word, so a million such ids index as fast as random ones.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with the Fx hash.
pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_different_keys_apart() {
        let h = |s: &str| FxBuild.hash_one(s);
        assert_eq!(h("P0-M1-use-4-permit"), h("P0-M1-use-4-permit"));
        assert_ne!(h("P0-M1-use-4-permit"), h("P0-M1-use-4-restrict"));
        // Strings that differ only past the first word, or in length.
        assert_ne!(h("abcdefgh1"), h("abcdefgh2"));
        assert_ne!(h("abc"), h("abc\0"));
        let mut m: FxMap<String, u32> = FxMap::default();
        m.insert("UA".into(), 1);
        assert_eq!(m.get("UA"), Some(&1));
        assert_eq!(m.get("RU"), None);
    }

    #[test]
    fn ids_that_differ_in_their_last_characters_spread_over_the_low_bits() {
        // hashbrown picks a bucket by the low bits: a million such ids must
        // not fall into a few hundred of them.
        let low: std::collections::HashSet<u64> = (0..100_000)
            .map(|i| FxBuild.hash_one(format!("L{i:07}")) & 0xf_ffff)
            .collect();
        assert!(
            low.len() > 60_000,
            "{} distinct low-bit patterns",
            low.len()
        );
        let top: std::collections::HashSet<u64> = (0..100_000)
            .map(|i| FxBuild.hash_one(format!("T{i:07}")) >> 57)
            .collect();
        assert_eq!(top.len(), 128);
    }
}
