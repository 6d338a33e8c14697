//! Feature hashes. Every feature is a `u64`: a word's 64-bit FNV-1a hash (salted inside a
//! negation scope), a bigram's mix of two word features, or one of the two stance features.

/// The feature of the negation marker itself, shared by every negator in every language.
pub const NEGATION_TOKEN: u64 = 0x9e37_79b9_7f4a_7c15;
/// The feature shared by every affirmative word outside a negation scope.
pub const AFFIRM_TOKEN: u64 = 0x6a09_e667_f3bc_c909;
/// Mixed into a word's hash when it stands in a negation scope.
pub(super) const NEGATED_SALT: u64 = 0xc2b2_ae3d_27d4_eb4f;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes`, continued from the state `h` (start from [`FNV_OFFSET`]).
pub(super) fn fnv1a_from(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// FNV-1a of `bytes`.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(FNV_OFFSET, bytes)
}

/// A bigram's feature: an order-sensitive combination of its two words' features.
pub(super) fn mix(a: u64, b: u64) -> u64 {
    let x = a.rotate_left(17) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}
