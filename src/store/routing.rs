//! Key -> hash slot -> shard. The slot is Redis Cluster's: CRC16/XMODEM of
//! the key, or of its `{hash tag}`, modulo 16384. Keys sharing a hash tag
//! share a shard, so multi-key commands on them take one lock.

use crc::{Crc, CRC_16_XMODEM};

pub const SLOTS: usize = 16384;
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The Redis Cluster hash slot of `key`.
pub fn hash_slot(key: &[u8]) -> usize {
    CRC16.checksum(hash_tag(key)) as usize % SLOTS
}

/// The part of the key that is hashed: the text between the first `{` and
/// the next `}` when that text is not empty, otherwise the whole key.
fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from CLUSTER KEYSLOT on a real Redis.
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"bar"), 5061);
        assert_eq!(hash_slot(b"123456789"), 0x31C3);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        assert_eq!(hash_slot(b"foo{}{bar}"), hash_slot(b"foo{}{bar}"));
        assert_ne!(hash_slot(b"foo{}{bar}"), hash_slot(b"bar"));
        assert_eq!(hash_slot(b"foo{{bar}}zap"), hash_slot(b"{bar"));
        assert_eq!(hash_slot(b""), 0);
    }
}
