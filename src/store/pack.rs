//! A packed sequence of byte strings in one allocation, like Redis's
//! listpack: each entry is its length as a LEB128 varint, then its bytes.
//! Small collections live in one of these, so a hash of a few short fields
//! costs one allocation instead of one per field. Operations are linear,
//! which is what the size limits (hash-max-listpack-entries, ...) bound.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pack {
    buf: Vec<u8>,
    len: usize,
}

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
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        self.reserve(varint_len(item.len()) + item.len());
        write_varint(&mut self.buf, item.len());
        self.buf.extend_from_slice(item);
        self.len += 1;
    }

    /// Entries with the byte offset each starts at.
    pub fn iter(&self) -> PackIter<'_> {
        PackIter { buf: &self.buf, at: 0 }
    }

    /// Inserts `items` in order before the entry at byte offset `at` (or at
    /// the end when `at` is the byte length).
    pub fn insert(&mut self, at: usize, items: &[&[u8]]) {
        let mut encoded = Vec::with_capacity(items.iter().map(|i| varint_len(i.len()) + i.len()).sum());
        for item in items {
            write_varint(&mut encoded, item.len());
            encoded.extend_from_slice(item);
        }
        self.reserve(encoded.len());
        self.buf.splice(at..at, encoded);
        self.len += items.len();
    }

    /// Bytes used by the entries (the offset just past the last one).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Replaces the entry starting at byte offset `at`.
    pub fn replace(&mut self, at: usize, item: &[u8]) {
        let (_, end) = read_at(&self.buf, at);
        let mut encoded = Vec::with_capacity(varint_len(item.len()) + item.len());
        write_varint(&mut encoded, item.len());
        encoded.extend_from_slice(item);
        self.reserve(encoded.len().saturating_sub(end - at));
        self.buf.splice(at..end, encoded);
        self.trim();
    }

    /// Removes `count` entries starting at byte offset `at`.
    pub fn remove(&mut self, at: usize, count: usize) {
        let mut end = at;
        for _ in 0..count {
            end = read_at(&self.buf, end).1;
        }
        self.buf.drain(at..end);
        self.len -= count;
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
    }
}
