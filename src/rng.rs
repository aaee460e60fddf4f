//! Random streams: one master seed -> an independent stream per (replication, component, index).
//!
//! Depends only on `rand`/`rand_xoshiro`. Component names are hashed (FNV-1a) so adding a new
//! component never shifts the streams of existing ones; per-call streams are keyed by the call's
//! index within its source, so switching a lever (backup routing, a raised limit) leaves every
//! caller's arrival time and draws unchanged: comparisons use common random numbers.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub type SimRng = Xoshiro256PlusPlus;

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combines a parent seed with a key into a child seed (order-sensitive, non-commutative).
pub fn child(parent: u64, key: u64) -> u64 {
    mix64(parent ^ mix64(key.wrapping_add(0x632B_E59B_D9B4_E019)))
}

/// FNV-1a 64 of a component name: stable across platforms, builds and Rust versions.
pub fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// Seed of the stream for `component` in `replication` under `master`.
pub fn component_seed(master: u64, replication: u64, component: &str) -> u64 {
    child(child(mix64(master), replication), name_hash(component))
}

/// A generator from a 64-bit seed (expanded by SplitMix64 inside `seed_from_u64`).
pub fn rng_from(seed: u64) -> SimRng {
    SimRng::seed_from_u64(seed)
}

/// Purposes of a call's sub-streams: each draw a call makes comes from its own keyed stream, so
/// a call that takes a different path (one backup leg instead of three) draws the same values
/// for everything the paths share.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum CallDraw {
    Patience = 1,
    FanOut = 2,
    Talk = 3,
    Redial = 4,
    Setup = 5,
    Account = 6,
    /// A client's backoff before retry k uses `Backoff as u64 + k`.
    Backoff = 8,
    /// Platform stage s, attempt k: `Stage as u64 + (s << 16 | k)`.
    Stage = 1 << 32,
    /// Destination i uses `Destination as u64 + i`.
    Destination = 16,
    /// The backoff of leg i before its retry k: `LegBackoff as u64 + (i << 16 | k)`.
    LegBackoff = 3 << 32,
}

/// A call's sub-stream generator: SplitMix64, whose seeding is a plain store, so a call can
/// afford a fresh stream per purpose. Each sub-stream supplies a handful of draws; SplitMix64
/// passes BigCrush, and the keyed seeds make streams of different calls and purposes distinct.
pub type CallRng = rand_xoshiro::SplitMix64;

pub fn call_rng(call_seed: u64, draw: CallDraw, index: u64) -> CallRng {
    CallRng::seed_from_u64(child(call_seed, draw as u64 + index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_every_key_and_repeat_exactly() {
        let a = component_seed(1, 0, "source:a");
        assert_eq!(a, component_seed(1, 0, "source:a"));
        assert_ne!(a, component_seed(2, 0, "source:a"));
        assert_ne!(a, component_seed(1, 1, "source:a"));
        assert_ne!(a, component_seed(1, 0, "source:b"));
        let x: u64 = rng_from(a).random();
        let y: u64 = rng_from(a).random();
        assert_eq!(x, y);
        assert_ne!(
            call_rng(7, CallDraw::Patience, 0).random::<u64>(),
            call_rng(7, CallDraw::Talk, 0).random::<u64>()
        );
    }

    #[test]
    fn fnv_is_the_published_function() {
        // FNV-1a 64 test vector: "a" -> 0xaf63dc4c8601ec8c.
        assert_eq!(name_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
