//! A vector kept in fixed-size chunks. It grows a chunk at a time and
//! never copies what it holds, so an index of millions of entries grows
//! without the multi-millisecond copy a doubling `Vec` makes at each step.
//! Holds `Copy` items; removal swaps the last item into the hole.

/// Items per chunk: 32 KiB of 8-byte items.
const CHUNK: usize = 4096;

pub struct Chunked<T> {
    chunks: Vec<Box<[T; CHUNK]>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Copy> Chunked<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<T> {
        (i < self.len).then(|| self.chunks[i / CHUNK][i % CHUNK])
    }

    /// Appends `item`, returning its index.
    pub fn push(&mut self, item: T) -> usize {
        let i = self.len;
        if i / CHUNK == self.chunks.len() {
            // A new chunk is filled with the item: slots past `len` are
            // never read, and this needs no default value.
            self.chunks.push(Box::new([item; CHUNK]));
        }
        self.chunks[i / CHUNK][i % CHUNK] = item;
        self.len += 1;
        i
    }

    /// Removes the item at `i` by moving the last one into its place;
    /// returns the moved item, if one moved (it is now at `i`).
    pub fn swap_remove(&mut self, i: usize) -> Option<T> {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        self.len -= 1;
        let last = self.chunks[self.len / CHUNK][self.len % CHUNK];
        // A chunk left empty is freed, unless it is the only spare one:
        // a push right after would allocate it again.
        if self.chunks.len() > self.len.div_ceil(CHUNK) + 1 {
            self.chunks.pop();
        }
        if i == self.len {
            return None;
        }
        self.chunks[i / CHUNK][i % CHUNK] = last;
        Some(last)
    }

    /// Makes room for the chunk list of `n` items in all (the chunks
    /// themselves come as items arrive).
    pub fn reserve(&mut self, n: usize) {
        self.chunks.reserve(n.div_ceil(CHUNK).saturating_sub(self.chunks.len()));
    }

    pub fn clear(&mut self) {
        *self = Chunked::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes and swap-removes across chunk boundaries match a `Vec` doing
    /// the same.
    #[test]
    fn behaves_like_a_vec_with_swap_remove() {
        let mut c = Chunked::<u64>::default();
        let mut v = Vec::new();
        let mut x = 7u64;
        for round in 0..40_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if v.is_empty() || !x.is_multiple_of(3) || round > 30_000 && x.is_multiple_of(5) {
                assert_eq!(c.push(round), v.len());
                v.push(round);
            } else {
                let i = (x >> 33) as usize % v.len();
                let moved = c.swap_remove(i);
                v.swap_remove(i);
                assert_eq!(moved, v.get(i).copied().filter(|_| i < v.len()));
            }
            assert_eq!(c.len(), v.len());
        }
        for (i, item) in v.iter().enumerate() {
            assert_eq!(c.get(i), Some(*item));
        }
        assert_eq!(c.get(v.len()), None);
        while !v.is_empty() {
            c.swap_remove(0);
            v.swap_remove(0);
        }
        assert!(c.is_empty());
        assert!(c.chunks.len() <= 1, "emptied chunks are freed");
    }
}
