//! Lists, packed the way Redis's quicklist packs them: a deque of chunks,
//! each one buffer of entries (Redis's listpack idea), so an element costs
//! its bytes plus two length bytes instead of a pointer and an allocation.
//!
//! An entry is `len | bytes | len-backwards`: the length as a LEB128 varint
//! before the bytes, and the same varint byte-reversed after them, so a
//! chunk can be walked from either end. A chunk keeps free room at its
//! front as well as its back, so pushes and pops at both ends are O(1)
//! amortized. A chunk grows up to `list-max-listpack-size` (8 KiB or a
//! count of entries) and then a new one starts; a single larger element
//! gets a chunk of its own. Edits in the middle rebuild one chunk.

use std::collections::VecDeque;

/// Sizing of chunks from `list-max-listpack-size`: negative -1..-5 for
/// 4..64 KiB, positive for a count of entries (within 8 KiB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl ListLimits {
    /// From the config value, as Redis reads it.
    pub fn from_fill(fill: i64) -> ListLimits {
        match fill {
            n if n > 0 => ListLimits { max_bytes: 8192, max_entries: n as usize },
            n => {
                let shift = (-n).clamp(1, 5) as u32 - 1;
                ListLimits { max_bytes: 4096 << shift, max_entries: usize::MAX }
            }
        }
    }
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits::from_fill(-2)
    }
}

/// One packed run of entries: the data is `buf[head..]`.
#[derive(Clone, Default)]
struct Chunk {
    buf: Vec<u8>,
    head: usize,
    count: usize,
}

fn varint_len(n: usize) -> usize {
    let mut len = 1;
    let mut v = n >> 7;
    while v > 0 {
        len += 1;
        v >>= 7;
    }
    len
}

fn entry_len(data: usize) -> usize {
    data + 2 * varint_len(data)
}

/// Writes the entry for `data` into `out`, which is exactly its size.
fn encode(data: &[u8], out: &mut [u8]) {
    let n = varint_len(data.len());
    let mut v = data.len();
    for i in 0..n {
        let byte = (v & 0x7f) as u8 | if i + 1 < n { 0x80 } else { 0 };
        out[i] = byte;
        out[out.len() - 1 - i] = byte;
        v >>= 7;
    }
    out[n..n + data.len()].copy_from_slice(data);
}

/// Reads a varint forward at `at`: (value, bytes used).
fn read_forward(buf: &[u8], at: usize) -> (usize, usize) {
    let (mut v, mut shift, mut i) = (0usize, 0, at);
    loop {
        let b = buf[i];
        v |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (v, i - at);
        }
        shift += 7;
    }
}

/// Reads a varint backwards, ending just before `end`: (value, bytes used).
fn read_backward(buf: &[u8], end: usize) -> (usize, usize) {
    let (mut v, mut shift, mut i) = (0usize, 0, end);
    loop {
        i -= 1;
        let b = buf[i];
        v |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return (v, end - i);
        }
        shift += 7;
    }
}

impl Chunk {
    fn bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    fn fits(&self, entry: usize, limits: ListLimits) -> bool {
        self.count < limits.max_entries && self.bytes() + entry <= limits.max_bytes
    }

    fn push_back(&mut self, data: &[u8]) {
        let need = entry_len(data.len());
        if self.buf.capacity() - self.buf.len() < need {
            // Exactly what is needed, as a listpack grows: the allocator
            // grows in place within its size classes, which are a quarter
            // apart, so the copying stays amortized O(1).
            self.buf.reserve_exact(need);
        }
        let at = self.buf.len();
        self.buf.resize(at + need, 0);
        encode(data, &mut self.buf[at..]);
        self.count += 1;
    }

    fn push_front(&mut self, data: &[u8]) {
        let need = entry_len(data.len());
        if self.head < need {
            let len = self.bytes();
            let room = (len + need).min(8192usize.saturating_sub(len + need)).max(16);
            let mut buf = vec![0u8; room + need + len];
            buf[room + need..].copy_from_slice(&self.buf[self.head..]);
            self.buf = buf;
            self.head = room + need;
        }
        self.head -= need;
        let head = self.head;
        encode(data, &mut self.buf[head..head + need]);
        self.count += 1;
    }

    /// The entry starting at byte `at`: (data range, entry end).
    fn entry_at(&self, at: usize) -> (std::ops::Range<usize>, usize) {
        let (len, used) = read_forward(&self.buf, at);
        let start = at + used;
        (start..start + len, start + len + used)
    }

    /// The entry ending at byte `end`: (data range, entry start).
    fn entry_before(&self, end: usize) -> (std::ops::Range<usize>, usize) {
        let (len, used) = read_backward(&self.buf, end);
        let stop = end - used;
        (stop - len..stop, stop - len - used)
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let (data, next) = self.entry_at(self.head);
        let out = self.buf[data].to_vec();
        self.head = next;
        self.count -= 1;
        self.shrink();
        out
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (data, start) = self.entry_before(self.buf.len());
        let out = self.buf[data].to_vec();
        self.buf.truncate(start);
        self.count -= 1;
        self.shrink();
        out
    }

    /// Gives back room once most of the buffer is unused.
    fn shrink(&mut self) {
        if self.count > 0 && self.buf.capacity() > 64 && self.bytes() * 4 < self.buf.capacity() {
            self.buf = self.buf[self.head..].to_vec();
            self.head = 0;
        }
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter { chunk: self, front: self.head, back: self.buf.len() }
    }

    fn from_entries<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Chunk {
        let mut c = Chunk::default();
        for e in entries {
            c.push_back(e);
        }
        c
    }
}

struct ChunkIter<'a> {
    chunk: &'a Chunk,
    front: usize,
    back: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (data, next) = self.chunk.entry_at(self.front);
        self.front = next;
        Some(&self.chunk.buf[data])
    }
}

impl<'a> DoubleEndedIterator for ChunkIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (data, start) = self.chunk.entry_before(self.back);
        self.back = start;
        Some(&self.chunk.buf[data])
    }
}

/// A list of byte strings.
#[derive(Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, data: &[u8], limits: ListLimits) {
        let need = entry_len(data.len());
        match self.chunks.back_mut() {
            Some(c) if c.fits(need, limits) => c.push_back(data),
            _ => {
                if self.chunks.capacity() == 0 {
                    self.chunks.reserve_exact(1);
                }
                let mut c = Chunk::default();
                c.push_back(data);
                self.chunks.push_back(c);
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, data: &[u8], limits: ListLimits) {
        let need = entry_len(data.len());
        match self.chunks.front_mut() {
            Some(c) if c.fits(need, limits) => c.push_front(data),
            _ => {
                if self.chunks.capacity() == 0 {
                    self.chunks.reserve_exact(1);
                }
                let mut c = Chunk::default();
                c.push_front(data);
                self.chunks.push_front(c);
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let chunk = self.chunks.front_mut()?;
        let out = chunk.pop_front();
        if chunk.count == 0 {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(out)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let chunk = self.chunks.back_mut()?;
        let out = chunk.pop_back();
        if chunk.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(out)
    }

    /// The chunk holding index `i`, and `i`'s position within it.
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            let mut rest = i;
            for (c, chunk) in self.chunks.iter().enumerate() {
                if rest < chunk.count {
                    return Some((c, rest));
                }
                rest -= chunk.count;
            }
        } else {
            let mut rest = self.len - 1 - i;
            for (c, chunk) in self.chunks.iter().enumerate().rev() {
                if rest < chunk.count {
                    return Some((c, chunk.count - 1 - rest));
                }
                rest -= chunk.count;
            }
        }
        unreachable!("counts add up to len")
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (c, at) = self.locate(i)?;
        let chunk = &self.chunks[c];
        if at < chunk.count / 2 {
            chunk.iter().nth(at)
        } else {
            chunk.iter().nth_back(chunk.count - 1 - at)
        }
    }

    /// Rebuilds the chunk holding index `i` with `edit` applied to its
    /// entries (given as owned copies), splitting it if it outgrew a chunk.
    fn edit_chunk(&mut self, i: usize, limits: ListLimits, edit: impl FnOnce(&mut Vec<Vec<u8>>, usize)) {
        let (c, at) = self.locate(i).expect("index in range");
        let mut entries: Vec<Vec<u8>> = self.chunks[c].iter().map(<[u8]>::to_vec).collect();
        let before = entries.len();
        edit(&mut entries, at);
        self.len = self.len + entries.len() - before;
        let mut rebuilt: Vec<Chunk> = Vec::new();
        for e in &entries {
            let need = entry_len(e.len());
            match rebuilt.last_mut() {
                Some(last) if last.fits(need, limits) => last.push_back(e),
                _ => rebuilt.push(Chunk::from_entries([e.as_slice()])),
            }
        }
        self.chunks.remove(c);
        for (k, chunk) in rebuilt.into_iter().enumerate() {
            self.chunks.insert(c + k, chunk);
        }
    }

    /// Replaces the element at `i`; false when out of range.
    pub fn set(&mut self, i: usize, data: &[u8], limits: ListLimits) -> bool {
        if i >= self.len {
            return false;
        }
        self.edit_chunk(i, limits, |entries, at| entries[at] = data.to_vec());
        true
    }

    /// Inserts before index `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, data: &[u8], limits: ListLimits) {
        if i == self.len {
            self.push_back(data, limits);
        } else if i == 0 {
            self.push_front(data, limits);
        } else {
            self.edit_chunk(i, limits, |entries, at| entries.insert(at, data.to_vec()));
        }
    }

    /// Removes the element at `i`.
    pub fn remove(&mut self, i: usize) {
        if i == 0 {
            self.pop_front();
        } else if i + 1 == self.len {
            self.pop_back();
        } else if i < self.len {
            self.edit_chunk(i, ListLimits::default(), |entries, at| {
                entries.remove(at);
            });
        }
    }

    /// Keeps only the elements `start..end`.
    pub fn retain_range(&mut self, start: usize, end: usize) {
        let end = end.min(self.len);
        for _ in end..self.len {
            self.drop_back();
        }
        for _ in 0..start.min(self.len) {
            self.drop_front();
        }
    }

    fn drop_front(&mut self) {
        if let Some(chunk) = self.chunks.front_mut() {
            if chunk.count == 1 {
                self.chunks.pop_front();
            } else {
                let (_, next) = chunk.entry_at(chunk.head);
                chunk.head = next;
                chunk.count -= 1;
                chunk.shrink();
            }
            self.len -= 1;
        }
    }

    fn drop_back(&mut self) {
        if let Some(chunk) = self.chunks.back_mut() {
            if chunk.count == 1 {
                self.chunks.pop_back();
            } else {
                let (_, start) = chunk.entry_before(chunk.buf.len());
                chunk.buf.truncate(start);
                chunk.count -= 1;
                chunk.shrink();
            }
            self.len -= 1;
        }
    }

    pub fn clear(&mut self) {
        *self = List::new();
    }

    /// Front to back.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// The elements from index `from` on, front to back.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (c, at) = self.locate(from).unwrap_or((self.chunks.len(), 0));
        self.chunks.range(c..).enumerate().flat_map(move |(k, chunk)| chunk.iter().skip(if k == 0 { at } else { 0 }))
    }

    /// The list's packed runs, in order (an RDB file stores one node per
    /// run, as Redis does with its quicklist nodes).
    pub fn runs(&self) -> impl Iterator<Item = impl Iterator<Item = &[u8]> + '_> + '_ {
        self.chunks.iter().map(|c| c.iter())
    }

    pub fn heap_size(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Chunk>()
            + self.chunks.iter().map(|c| c.buf.capacity()).sum::<usize>()
    }

    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, limits: ListLimits) -> List {
        let mut list = List::new();
        for item in items {
            list.push_back(item, limits);
        }
        list
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
        Retain(usize, usize),
    }

    fn data() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..6),
            prop::collection::vec(any::<u8>(), 100..300),
            Just(vec![b'x'; 9000]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => data().prop_map(Op::PushFront),
            4 => data().prop_map(Op::PushBack),
            2 => Just(Op::PopFront),
            2 => Just(Op::PopBack),
            1 => (any::<usize>(), data()).prop_map(|(i, d)| Op::Set(i, d)),
            1 => (any::<usize>(), data()).prop_map(|(i, d)| Op::Insert(i, d)),
            1 => any::<usize>().prop_map(Op::Remove),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Retain(a, b)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_deque(ops in prop::collection::vec(op(), 1..300), fill in prop_oneof![Just(-1i64), Just(-2), Just(3)]) {
            let limits = ListLimits::from_fill(fill);
            let mut list = List::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                let n = model.len();
                match op {
                    Op::PushFront(d) => { list.push_front(&d, limits); model.push_front(d); }
                    Op::PushBack(d) => { list.push_back(&d, limits); model.push_back(d); }
                    Op::PopFront => prop_assert_eq!(list.pop_front(), model.pop_front()),
                    Op::PopBack => prop_assert_eq!(list.pop_back(), model.pop_back()),
                    Op::Set(i, d) => {
                        let i = if n > 0 { i % n } else { 0 };
                        prop_assert_eq!(list.set(i, &d, limits), i < n);
                        if i < n { model[i] = d; }
                    }
                    Op::Insert(i, d) => {
                        let i = i % (n + 1);
                        list.insert(i, &d, limits);
                        model.insert(i, d);
                    }
                    Op::Remove(i) => if n > 0 {
                        list.remove(i % n);
                        model.remove(i % n);
                    },
                    Op::Retain(a, b) => {
                        let (a, b) = (a % (n + 1), b % (n + 1));
                        let (a, b) = (a.min(b), a.max(b));
                        list.retain_range(a, b);
                        model.truncate(b);
                        model.drain(..a);
                    }
                }
                prop_assert_eq!(list.len(), model.len());
                prop_assert!(list.chunks.iter().all(|c| c.count > 0));
                prop_assert_eq!(list.chunks.iter().map(|c| c.count).sum::<usize>(), model.len());
            }
            let forward: Vec<&[u8]> = list.iter().collect();
            let expected: Vec<&[u8]> = model.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(&forward, &expected);
            let backward: Vec<&[u8]> = list.iter().rev().collect();
            let mut reversed = expected.clone();
            reversed.reverse();
            prop_assert_eq!(backward, reversed);
            for i in 0..model.len() {
                prop_assert_eq!(list.get(i), Some(model[i].as_slice()));
                let from: Vec<&[u8]> = list.iter_from(i).collect();
                prop_assert_eq!(&from[..], &expected[i..]);
            }
            prop_assert_eq!(list.get(model.len()), None);
        }
    }

    #[test]
    fn full_chunks_have_no_spare_room() {
        let mut list = List::new();
        for i in 0..10_000 {
            list.push_back(format!("m{i}").as_bytes(), ListLimits::default());
        }
        let data: usize = list.iter().map(|e| entry_len(e.len())).sum();
        assert!(list.heap_size() < data + data / 10, "{} for {data}", list.heap_size());
        let mut list = List::new();
        for i in 0..10_000 {
            list.push_front(format!("m{i}").as_bytes(), ListLimits::default());
        }
        assert!(list.heap_size() < data * 2, "{} for {data}", list.heap_size());
    }

    #[test]
    fn limits_from_fill() {
        assert_eq!(ListLimits::from_fill(-2), ListLimits { max_bytes: 8192, max_entries: usize::MAX });
        assert_eq!(ListLimits::from_fill(-5).max_bytes, 65536);
        assert_eq!(ListLimits::from_fill(0).max_bytes, 4096);
        assert_eq!(ListLimits::from_fill(128), ListLimits { max_bytes: 8192, max_entries: 128 });
    }
}
