//! A packed sequence of byte strings in one allocation, like Redis's
//! listpack: each entry is its length as a LEB128 varint, then its bytes.
//! Small collections live in one of these, so a hash of a few short fields
//! costs one allocation instead of one per field. Operations are linear,
//! which is what the size limits (hash-max-listpack-entries, ...) bound.
//!
//! The entry count is kept in the buffer's first four bytes rather than in
//! a field, so a `Pack` is just a `Vec` and the hash and sorted-set values
//! built on it stay 24 bytes. An empty pack has no buffer at all. Offsets
//! in the API count from the first entry, past that header.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pack {
    buf: Vec<u8>,
}

/// Bytes of the entry count at the start of a non-empty buffer.
const HEADER: usize = 4;

fn varint_len(mut n: usize) -> usize {
    let mut bytes = 1;
    while n >= 0x80 {
        n >>= 7;
        bytes += 1;
    }
    bytes
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the entry at byte offset `at`: (its bytes, the offset after it).
fn read_at(buf: &[u8], at: usize) -> (&[u8], usize) {
    let (mut n, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (&buf[i..i + n], i + n)
}

impl Pack {
    pub fn new() -> Self {
        Pack::default()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        match self.buf.first_chunk::<HEADER>() {
            Some(header) => u32::from_le_bytes(*header) as usize,
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Adds `delta` entries to the count (a new buffer gets its header);
    /// a pack left with none gives its buffer back.
    fn count(&mut self, delta: isize) {
        let len = self.len().checked_add_signed(delta).expect("a pack never holds fewer than 0 entries");
        if len == 0 {
            self.buf = Vec::new();
            return;
        }
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&[0; HEADER]);
        }
        let len = u32::try_from(len).expect("packs hold fewer than 2^32 entries");
        self.buf[..HEADER].copy_from_slice(&len.to_le_bytes());
    }

    /// The entries' bytes, after the header.
    fn entries(&self) -> &[u8] {
        self.buf.get(HEADER..).unwrap_or_default()
    }

    /// Bytes allocated (for memory estimates).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for `extra` more bytes, exactly, as a listpack grows: the
    /// allocator grows in place within its size classes, so small packs
    /// carry no doubling slack and the copying stays amortized O(1).
    fn reserve(&mut self, extra: usize) {
        self.buf.reserve_exact(extra);
    }

    /// Gives room back after removals, as a listpack shrinks.
    fn trim(&mut self) {
        if self.buf.capacity() > 64 && self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
    }

    pub fn push(&mut self, item: &[u8]) {
        let header = if self.buf.is_empty() { HEADER } else { 0 };
        self.reserve(header + varint_len(item.len()) + item.len());
        self.count(1);
        write_varint(&mut self.buf, item.len());
        self.buf.extend_from_slice(item);
    }

    /// Entries with the byte offset each starts at.
    pub fn iter(&self) -> PackIter<'_> {
        PackIter { buf: self.entries(), at: 0 }
    }

    /// Inserts `items` in order before the entry at byte offset `at` (or at
    /// the end when `at` is the byte length).
    pub fn insert(&mut self, at: usize, items: &[&[u8]]) {
        let mut encoded = Vec::with_capacity(items.iter().map(|i| varint_len(i.len()) + i.len()).sum());
        for item in items {
            write_varint(&mut encoded, item.len());
            encoded.extend_from_slice(item);
        }
        if items.is_empty() {
            return;
        }
        let header = if self.buf.is_empty() { HEADER } else { 0 };
        self.reserve(header + encoded.len());
        self.count(items.len() as isize);
        self.buf.splice(HEADER + at..HEADER + at, encoded);
    }

    /// Bytes used by the entries (the offset just past the last one).
    pub fn byte_len(&self) -> usize {
        self.entries().len()
    }

    /// Replaces the entry starting at byte offset `at`.
    pub fn replace(&mut self, at: usize, item: &[u8]) {
        let (_, end) = read_at(self.entries(), at);
        let mut encoded = Vec::with_capacity(varint_len(item.len()) + item.len());
        write_varint(&mut encoded, item.len());
        encoded.extend_from_slice(item);
        self.reserve(encoded.len().saturating_sub(end - at));
        self.buf.splice(HEADER + at..HEADER + end, encoded);
        self.trim();
    }

    /// Removes `count` entries starting at byte offset `at`.
    pub fn remove(&mut self, at: usize, count: usize) {
        let mut end = at;
        for _ in 0..count {
            end = read_at(self.entries(), end).1;
        }
        self.buf.drain(HEADER + at..HEADER + end);
        self.count(-(count as isize));
        self.trim();
    }
}

pub struct PackIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackIter<'a> {
    /// (byte offset of the entry, its bytes)
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            return None;
        }
        let start = self.at;
        let (item, next) = read_at(self.buf, start);
        self.at = next;
        Some((start, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_replace_remove() {
        let mut p = Pack::new();
        let long = vec![b'x'; 300];
        for item in [&b"a"[..], b"", &long, b"dd"] {
            p.push(item);
        }
        assert_eq!(p.len(), 4);
        let items: Vec<&[u8]> = p.iter().map(|(_, i)| i).collect();
        assert_eq!(items, vec![&b"a"[..], b"", &long[..], b"dd"]);
        let at = p.iter().nth(2).unwrap().0;
        p.replace(at, b"short");
        let at = p.iter().next().unwrap().0;
        p.remove(at, 2);
        let items: Vec<&[u8]> = p.iter().map(|(_, i)| i).collect();
        assert_eq!(items, vec![&b"short"[..], b"dd"]);
        assert_eq!(p.len(), 2);
        let at = p.iter().nth(1).unwrap().0;
        p.insert(at, &[b"x", b"yy"]);
        p.insert(p.byte_len(), &[b"end"]);
        let items: Vec<&[u8]> = p.iter().map(|(_, i)| i).collect();
        assert_eq!(items, vec![&b"short"[..], b"x", b"yy", b"dd", b"end"]);
        assert_eq!(p.len(), 5);
        p.remove(0, 5);
        assert!(p.is_empty());
        assert_eq!(p, Pack::new(), "an emptied pack holds no buffer");
        p.insert(0, &[b"again"]);
        assert_eq!(p.iter().map(|(_, i)| i).collect::<Vec<_>>(), vec![&b"again"[..]]);
    }
}
