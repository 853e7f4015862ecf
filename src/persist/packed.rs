//! Redis's compact blobs, as RDB files carry them: listpacks (7.0's small
//! hashes, sorted sets and list nodes), intsets (small integer sets), and,
//! read only, the ziplists and zipmaps that files from older versions hold.
//! Readers check every length against the blob and return `None` on any
//! inconsistency: a blob comes from a file or a client, never trusted.

use crate::resp::request::parse_i64;

/// An element of a blob: bytes, or an integer stored as one.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// The element as bytes (integers formatted in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Item::Bytes(b) => b.to_vec(),
            Item::Int(n) => n.to_string().into_bytes(),
        }
    }
}

/// Builds a listpack: header (total bytes, element count), entries (each
/// an encoding, its data and its own length written backwards), 0xFF.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        ListpackWriter { buf: vec![0; 6], count: 0 }
    }
}

impl ListpackWriter {
    pub fn push(&mut self, item: &[u8]) {
        match (item.len() <= 20).then(|| parse_i64(item)).flatten() {
            Some(n) => self.push_int(n),
            None => self.push_bytes(item),
        }
    }

    pub fn push_int(&mut self, n: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        match n {
            0..=127 => b.push(n as u8),
            -4096..=4095 => {
                let v = (n as u64) & 0x1fff;
                b.extend_from_slice(&[0xc0 | (v >> 8) as u8, v as u8]);
            }
            _ if i16::try_from(n).is_ok() => {
                b.push(0xf1);
                b.extend_from_slice(&(n as i16).to_le_bytes());
            }
            _ if (-(1 << 23)..(1 << 23)).contains(&n) => {
                b.push(0xf2);
                b.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            _ if i32::try_from(n).is_ok() => {
                b.push(0xf3);
                b.extend_from_slice(&(n as i32).to_le_bytes());
            }
            _ => {
                b.push(0xf4);
                b.extend_from_slice(&n.to_le_bytes());
            }
        }
        self.finish_entry(start);
    }

    pub fn push_bytes(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        let len = s.len();
        if len < 64 {
            b.push(0x80 | len as u8);
        } else if len < 4096 {
            b.extend_from_slice(&[0xe0 | (len >> 8) as u8, len as u8]);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends the back length: the entry's size in 7-bit groups, most
    /// significant first, every group but the first marked with 0x80.
    fn finish_entry(&mut self, start: usize) {
        let size = self.buf.len() - start;
        let groups = backlen_size(size);
        for g in (0..groups).rev() {
            let part = ((size >> (7 * g)) & 0x7f) as u8;
            self.buf.push(if g == groups - 1 { part } else { part | 0x80 });
        }
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    }
}

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |acc, &b| acc << 8 | b as u64)
}

/// Sign-extends the low `bits` bits of `v`.
fn signed(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Walks a blob's entries, checking its frame: the total length in bytes
/// 0..4, the 0xFF end, and the element count at `count_at` (65535: not
/// counted). `entry(at)` reads the element at `at` and says where the next
/// one starts.
fn entries<'a>(
    blob: &'a [u8],
    header: usize,
    count_at: usize,
    mut entry: impl FnMut(usize) -> Option<(Item<'a>, usize)>,
) -> Option<Vec<Item<'a>>> {
    if blob.len() <= header || le(&blob[0..4]) as usize != blob.len() || *blob.last()? != 0xff {
        return None;
    }
    let declared = le(&blob[count_at..count_at + 2]) as usize;
    let mut items = Vec::with_capacity(declared.min(blob.len()));
    let end = blob.len() - 1;
    let mut at = header;
    while at < end {
        let (item, next) = entry(at)?;
        if next > end {
            return None;
        }
        items.push(item);
        at = next;
    }
    if declared != u16::MAX as usize && declared != items.len() {
        return None;
    }
    Some(items)
}

/// The elements of a listpack.
pub fn listpack_items(blob: &[u8]) -> Option<Vec<Item<'_>>> {
    let take = |from: usize, n: usize| blob.get(from..from + n);
    entries(blob, 6, 4, |at| {
        let b = blob[at];
        let (item, size) = match b {
            0x00..=0x7f => (Item::Int(b as i64), 1),
            0x80..=0xbf => {
                let n = (b & 0x3f) as usize;
                (Item::Bytes(take(at + 1, n)?), 1 + n)
            }
            0xc0..=0xdf => (Item::Int(signed(((b & 0x1f) as u64) << 8 | *blob.get(at + 1)? as u64, 13)), 2),
            0xe0..=0xef => {
                let n = ((b & 0x0f) as usize) << 8 | *blob.get(at + 1)? as usize;
                (Item::Bytes(take(at + 2, n)?), 2 + n)
            }
            0xf0 => {
                let n = le(take(at + 1, 4)?) as usize;
                (Item::Bytes(take(at + 5, n)?), 5 + n)
            }
            0xf1 => (Item::Int(signed(le(take(at + 1, 2)?), 16)), 3),
            0xf2 => (Item::Int(signed(le(take(at + 1, 3)?), 24)), 4),
            0xf3 => (Item::Int(signed(le(take(at + 1, 4)?), 32)), 5),
            0xf4 => (Item::Int(le(take(at + 1, 8)?) as i64), 9),
            _ => return None,
        };
        Some((item, at + size + backlen_size(size)))
    })
}

/// The elements of a ziplist (files from Redis before 7.0).
pub fn ziplist_items(blob: &[u8]) -> Option<Vec<Item<'_>>> {
    let take = |from: usize, n: usize| blob.get(from..from + n);
    entries(blob, 10, 8, |at| {
        // The previous entry's length: one byte, or 0xFE and four.
        let at = at + if blob[at] == 0xfe { 5 } else { 1 };
        let b = *blob.get(at)?;
        let (item, size) = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                (Item::Bytes(take(at + 1, n)?), 1 + n)
            }
            1 => {
                let n = ((b & 0x3f) as usize) << 8 | *blob.get(at + 1)? as usize;
                (Item::Bytes(take(at + 2, n)?), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(take(at + 1, 4)?.try_into().ok()?) as usize;
                (Item::Bytes(take(at + 5, n)?), 5 + n)
            }
            _ => match b {
                0xc0 => (Item::Int(signed(le(take(at + 1, 2)?), 16)), 3),
                0xd0 => (Item::Int(signed(le(take(at + 1, 4)?), 32)), 5),
                0xe0 => (Item::Int(le(take(at + 1, 8)?) as i64), 9),
                0xf0 => (Item::Int(signed(le(take(at + 1, 3)?), 24)), 4),
                0xfe => (Item::Int(signed(le(take(at + 1, 1)?), 8)), 2),
                0xf1..=0xfd => (Item::Int((b & 0x0f) as i64 - 1), 1),
                _ => return None,
            },
        };
        Some((item, at + size))
    })
}

/// An intset: element width (2, 4 or 8 bytes), count, sorted values.
pub fn intset_encode(values: &[i64]) -> Vec<u8> {
    let width: usize = match values.iter().map(|&v| if v < 0 { !v } else { v }).max().unwrap_or(0) {
        m if m <= i16::MAX as i64 => 2,
        m if m <= i32::MAX as i64 => 4,
        _ => 8,
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

pub fn intset_values(blob: &[u8]) -> Option<Vec<i64>> {
    let width = le(blob.get(0..4)?) as usize;
    let count = le(blob.get(4..8)?) as usize;
    if ![2, 4, 8].contains(&width) || blob.len() != 8 + width.checked_mul(count)? {
        return None;
    }
    Some(blob[8..].chunks_exact(width).map(|c| signed(le(c), width as u32 * 8)).collect())
}

/// A zipmap's field/value pairs (hashes in files from Redis before 2.6).
pub fn zipmap_items(blob: &[u8]) -> Option<Vec<&[u8]>> {
    let mut items = Vec::new();
    let mut at = 1;
    let len_at = |at: usize| -> Option<(usize, usize)> {
        match *blob.get(at)? {
            n @ 0..=253 => Some((n as usize, 1)),
            254 => Some((le(blob.get(at + 1..at + 5)?) as usize, 5)),
            _ => None,
        }
    };
    loop {
        if *blob.get(at)? == 0xff {
            break;
        }
        let (klen, used) = len_at(at)?;
        at += used;
        items.push(blob.get(at..at + klen)?);
        at += klen;
        let (vlen, used) = len_at(at)?;
        at += used;
        let free = *blob.get(at)? as usize;
        at += 1;
        items.push(blob.get(at..at + vlen)?);
        at += vlen + free;
    }
    (at + 1 == blob.len()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_matches_redis_bytes() {
        // A list [a, 1, b] as redis-server 7.0 dumps it.
        let mut w = ListpackWriter::default();
        for item in [&b"a"[..], b"1", b"b"] {
            w.push(item);
        }
        let blob = w.finish();
        assert_eq!(blob, [0x0f, 0, 0, 0, 3, 0, 0x81, b'a', 2, 1, 1, 0x81, b'b', 2, 0xff]);
        assert_eq!(listpack_items(&blob).unwrap(), vec![Item::Bytes(b"a"), Item::Int(1), Item::Bytes(b"b")]);
    }

    #[test]
    fn listpack_round_trips_every_encoding() {
        let ints = [0, 127, 128, -1, -4096, 4095, 4096, -32768, 32767, 1 << 20, -(1 << 23), i32::MAX as i64, i64::MIN];
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let mut w = ListpackWriter::default();
        for n in ints {
            w.push_int(n);
        }
        w.push_bytes(&long);
        w.push_bytes(&mid);
        w.push(b"007");
        let blob = w.finish();
        let items = listpack_items(&blob).unwrap();
        let mut want: Vec<Item> = ints.iter().map(|&n| Item::Int(n)).collect();
        want.extend([Item::Bytes(&long), Item::Bytes(&mid), Item::Bytes(b"007")]);
        assert_eq!(items, want);
    }

    #[test]
    fn bad_blobs_are_refused() {
        let mut w = ListpackWriter::default();
        w.push(b"hello");
        let blob = w.finish();
        for cut in 0..blob.len() {
            assert!(listpack_items(&blob[..cut]).is_none());
        }
        let mut wrong_count = blob.clone();
        wrong_count[4] = 2;
        assert!(listpack_items(&wrong_count).is_none());
        assert!(intset_values(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0]).is_none());
        assert!(ziplist_items(&[11, 0, 0, 0, 10, 0, 0, 0, 5, 0, 0xff]).is_none());
    }

    #[test]
    fn intsets_round_trip() {
        for values in [vec![1, 2, 3], vec![-70000, 5], vec![i64::MIN, 0, i64::MAX], vec![]] {
            assert_eq!(intset_values(&intset_encode(&values)).unwrap(), values);
        }
        assert_eq!(intset_encode(&[1, 2, 3])[..4], [2, 0, 0, 0]);
    }

    #[test]
    fn ziplist_and_zipmap_decode() {
        // A ziplist of "ab", 7 (immediate), 300 (int16), as Redis 6 writes.
        let mut z = vec![0u8; 10];
        z.extend_from_slice(&[0, 0x02, b'a', b'b']);
        z.extend_from_slice(&[4, 0xf8]);
        z.extend_from_slice(&[2, 0xc0, 0x2c, 0x01]);
        z.push(0xff);
        let total = z.len() as u32;
        z[0..4].copy_from_slice(&total.to_le_bytes());
        z[8..10].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(ziplist_items(&z).unwrap(), vec![Item::Bytes(b"ab"), Item::Int(7), Item::Int(300)]);
        let zm = [2, 1, b'f', 2, 0, b'v', b'1', 0xff];
        assert_eq!(zipmap_items(&zm).unwrap(), vec![&b"f"[..], b"v1"]);
    }
}
