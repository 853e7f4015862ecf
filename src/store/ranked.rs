//! An order-statistic B+tree: a sorted set of unique keys that also knows
//! every key's rank. Each inner node keeps, next to its children, how many
//! keys each child holds, so insert, remove, rank, "the key at rank r" and
//! "how many keys come before this bound" all cost O(log n), and a range
//! walk costs O(log n + items). Keys sit in leaves of up to 64, so a walk
//! reads contiguous memory, and a key costs its own size plus a share of a
//! leaf, with no per-key node as a skiplist or a binary tree would need.
//!
//! Inner nodes route by separators: `seps[j]` is at most the first key of
//! `children[j + 1]` and greater than every key of `children[j]`. A removal
//! never updates separators, so one may name a key no longer present; the
//! ordering property still holds, which is all routing needs.

const LEAF_MAX: usize = 64;
const INNER_MAX: usize = 32;
const LEAF_MIN: usize = LEAF_MAX / 4;
/// A leaf's vector holds a full leaf and the key that makes it split.
const LEAF_CAP: usize = LEAF_MAX + 1;
const INNER_MIN: usize = INNER_MAX / 4;

#[derive(Debug, Clone)]
enum Node<K> {
    Leaf(Vec<K>),
    Inner(Inner<K>),
}

#[derive(Debug, Clone)]
struct Inner<K> {
    seps: Vec<K>,
    children: Vec<Node<K>>,
    /// Keys under each child.
    counts: Vec<usize>,
}

impl<K> Node<K> {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(keys) => keys.len(),
            Node::Inner(inner) => inner.counts.iter().sum(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(keys) => keys.len() < LEAF_MIN,
            Node::Inner(inner) => inner.children.len() < INNER_MIN,
        }
    }
}

impl<K: Ord + Clone> Node<K> {
    /// Splits a node past its maximum in two; returns the separator and the
    /// right half. `at` is where the last insertion went: a node filled at
    /// its end (or start) splits there and stays full, so keys added in
    /// order pack leaves completely; elsewhere it splits in the middle.
    fn split_if_full(&mut self, at: usize) -> Option<(K, Node<K>)> {
        // `least`: what the smaller side keeps (an inner node keeps two
        // children, so it still routes).
        let cut = |len: usize, least: usize| match at {
            0 => least,
            a if a == len - 1 => len - least,
            _ => len / 2,
        };
        match self {
            Node::Leaf(keys) if keys.len() > LEAF_MAX => {
                let mid = cut(keys.len(), 1);
                let mut right = Vec::with_capacity(LEAF_CAP.max(keys.len() - mid));
                right.extend(keys.drain(mid..));
                keys.shrink_to(LEAF_CAP);
                Some((right[0].clone(), Node::Leaf(right)))
            }
            Node::Inner(inner) if inner.children.len() > INNER_MAX => {
                let mid = cut(inner.children.len(), 2);
                let children = inner.children.split_off(mid);
                let counts = inner.counts.split_off(mid);
                let seps = inner.seps.split_off(mid);
                let up = inner.seps.pop().expect("an inner node has a separator per gap");
                Some((up, Node::Inner(Inner { seps, children, counts })))
            }
            _ => None,
        }
    }

    fn insert(&mut self, key: K) -> Option<(K, Node<K>)> {
        match self {
            Node::Leaf(keys) => {
                let at = keys.partition_point(|k| *k < key);
                if keys.len() == keys.capacity() {
                    // Grow as usual but never past LEAF_CAP: a leaf splits
                    // before it needs more.
                    keys.reserve_exact((2 * keys.len()).clamp(4, LEAF_CAP) - keys.len());
                }
                keys.insert(at, key);
                self.split_if_full(at)
            }
            Node::Inner(inner) => {
                let i = inner.seps.partition_point(|s| *s <= key);
                inner.counts[i] += 1;
                let (sep, right) = inner.children[i].insert(key)?;
                let moved = right.len();
                inner.counts[i] -= moved;
                inner.seps.insert(i, sep);
                inner.children.insert(i + 1, right);
                inner.counts.insert(i + 1, moved);
                self.split_if_full(i + 1)
            }
        }
    }

    fn remove(&mut self, target: Target<'_, K>) -> Option<K> {
        match self {
            Node::Leaf(keys) => {
                let at = match target {
                    Target::Key(key) => keys.binary_search(key).ok()?,
                    Target::Rank(rank) => rank,
                };
                Some(keys.remove(at))
            }
            Node::Inner(inner) => {
                let (i, target) = match target {
                    Target::Key(key) => (inner.seps.partition_point(|s| s <= key), target),
                    Target::Rank(mut rank) => {
                        let mut i = 0;
                        while rank >= inner.counts[i] {
                            rank -= inner.counts[i];
                            i += 1;
                        }
                        (i, Target::Rank(rank))
                    }
                };
                let removed = inner.children[i].remove(target)?;
                inner.counts[i] -= 1;
                if inner.children[i].underfull() && inner.children.len() > 1 {
                    inner.merge(if i + 1 < inner.children.len() { i } else { i - 1 });
                }
                Some(removed)
            }
        }
    }
}

/// What a removal takes out: a key, or the key at a rank.
#[derive(Clone, Copy)]
enum Target<'a, K> {
    Key(&'a K),
    Rank(usize),
}

impl<K: Ord + Clone> Inner<K> {
    /// Joins children `j` and `j + 1`, splitting the result again if it is
    /// too big (so both halves end up well filled).
    fn merge(&mut self, j: usize) {
        let right = self.children.remove(j + 1);
        let right_count = self.counts.remove(j + 1);
        let sep = self.seps.remove(j);
        self.counts[j] += right_count;
        match (&mut self.children[j], right) {
            (Node::Leaf(left), Node::Leaf(mut right)) => left.append(&mut right),
            (Node::Inner(left), Node::Inner(mut right)) => {
                left.seps.push(sep);
                left.seps.append(&mut right.seps);
                left.children.append(&mut right.children);
                left.counts.append(&mut right.counts);
            }
            _ => unreachable!("siblings are at the same depth"),
        }
        if let Some((sep, right)) = self.children[j].split_if_full(usize::MAX) {
            let moved = right.len();
            self.counts[j] -= moved;
            self.seps.insert(j, sep);
            self.children.insert(j + 1, right);
            self.counts.insert(j + 1, moved);
        }
    }
}

#[derive(Debug, Clone)]
pub struct RankedSet<K> {
    root: Node<K>,
    len: usize,
}

impl<K> Default for RankedSet<K> {
    fn default() -> Self {
        RankedSet { root: Node::Leaf(Vec::new()), len: 0 }
    }
}

impl<K: Ord + Clone> RankedSet<K> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a key that is not in the set yet.
    pub fn insert(&mut self, key: K) {
        self.len += 1;
        if let Some((sep, right)) = self.root.insert(key) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let counts = vec![left.len(), right.len()];
            self.root = Node::Inner(Inner { seps: vec![sep], children: vec![left, right], counts });
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<K> {
        self.remove_target(Target::Key(key))
    }

    /// Removes the key at 0-based `rank`.
    pub fn remove_at(&mut self, rank: usize) -> Option<K> {
        if rank >= self.len {
            return None;
        }
        self.remove_target(Target::Rank(rank))
    }

    fn remove_target(&mut self, target: Target<'_, K>) -> Option<K> {
        let removed = self.root.remove(target)?;
        self.len -= 1;
        if let Node::Inner(inner) = &mut self.root {
            if inner.children.len() == 1 {
                self.root = inner.children.pop().expect("one child");
            }
        }
        Some(removed)
    }

    /// How many keys satisfy `before`, which must hold for a prefix of the
    /// keys in order and for none after it (a lower bound, a rank).
    pub fn partition_point(&self, before: impl Fn(&K) -> bool) -> usize {
        let (mut node, mut rank) = (&self.root, 0);
        loop {
            match node {
                Node::Leaf(keys) => return rank + keys.partition_point(&before),
                Node::Inner(inner) => {
                    let i = inner.seps.partition_point(&before);
                    rank += inner.counts[..i].iter().sum::<usize>();
                    node = &inner.children[i];
                }
            }
        }
    }

    /// The key at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<&K> {
        self.iter_from(rank, false).next()
    }

    /// Keys from `rank` on: upwards, or downwards towards rank 0 when
    /// `reverse`.
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_, K> {
        let mut it = Iter { stack: Vec::new(), leaf: &[], pos: 0, reverse, done: rank >= self.len };
        if it.done {
            return it;
        }
        let (mut node, mut rank) = (&self.root, rank);
        loop {
            match node {
                Node::Leaf(keys) => {
                    it.leaf = keys;
                    it.pos = rank;
                    return it;
                }
                Node::Inner(inner) => {
                    let mut i = 0;
                    while rank >= inner.counts[i] {
                        rank -= inner.counts[i];
                        i += 1;
                    }
                    it.stack.push((inner, i));
                    node = &inner.children[i];
                }
            }
        }
    }

    pub fn first(&self) -> Option<&K> {
        self.get(0)
    }

    pub fn last(&self) -> Option<&K> {
        self.len.checked_sub(1).and_then(|r| self.get(r))
    }
}

/// A walk over the keys in order (or in reverse) from a starting rank.
pub struct Iter<'a, K> {
    /// The inner nodes above the current leaf, with the child taken.
    stack: Vec<(&'a Inner<K>, usize)>,
    leaf: &'a [K],
    pos: usize,
    reverse: bool,
    done: bool,
}

impl<'a, K> Iter<'a, K> {
    /// Moves to the next leaf in the walk's direction.
    fn next_leaf(&mut self) -> bool {
        while let Some((inner, i)) = self.stack.pop() {
            let next = if self.reverse { i.checked_sub(1) } else { Some(i + 1).filter(|&n| n < inner.children.len()) };
            let Some(next) = next else { continue };
            self.stack.push((inner, next));
            let mut node = &inner.children[next];
            loop {
                match node {
                    Node::Leaf(keys) => {
                        self.leaf = keys;
                        self.pos = if self.reverse { keys.len() - 1 } else { 0 };
                        return true;
                    }
                    Node::Inner(inner) => {
                        let child = if self.reverse { inner.children.len() - 1 } else { 0 };
                        self.stack.push((inner, child));
                        node = &inner.children[child];
                    }
                }
            }
        }
        false
    }
}

impl<'a, K> Iterator for Iter<'a, K> {
    type Item = &'a K;

    fn next(&mut self) -> Option<&'a K> {
        if self.done {
            return None;
        }
        let item = &self.leaf[self.pos];
        let step =
            if self.reverse { self.pos.checked_sub(1) } else { Some(self.pos + 1).filter(|&p| p < self.leaf.len()) };
        match step {
            Some(p) => self.pos = p,
            None => self.done = !self.next_leaf(),
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn check_against(model: &BTreeSet<u32>, tree: &RankedSet<u32>) {
        assert_eq!(tree.len(), model.len());
        let all: Vec<u32> = model.iter().copied().collect();
        assert_eq!(tree.iter_from(0, false).copied().collect::<Vec<_>>(), all);
        if let Some(last) = all.len().checked_sub(1) {
            let mut rev = all.clone();
            rev.reverse();
            assert_eq!(tree.iter_from(last, true).copied().collect::<Vec<_>>(), rev);
        }
        for (rank, k) in all.iter().enumerate().step_by(7) {
            assert_eq!(tree.partition_point(|x| x < k), rank);
            assert_eq!(tree.get(rank), Some(k));
            assert_eq!(tree.iter_from(rank, true).count(), rank + 1);
        }
        assert_eq!(tree.get(all.len()), None);
        check_structure(&tree.root, true);
    }

    /// Counts match, separators order the children, nodes are not overfull.
    fn check_structure(node: &Node<u32>, root: bool) -> (Option<u32>, Option<u32>) {
        match node {
            Node::Leaf(keys) => {
                assert!(keys.len() <= LEAF_MAX);
                (keys.first().copied(), keys.last().copied())
            }
            Node::Inner(inner) => {
                assert!(inner.children.len() <= INNER_MAX);
                assert!(root || inner.children.len() >= 2);
                assert_eq!(inner.seps.len() + 1, inner.children.len());
                let mut bounds = Vec::new();
                for (child, &count) in inner.children.iter().zip(&inner.counts) {
                    assert_eq!(child.len(), count);
                    bounds.push(check_structure(child, false));
                }
                for (j, sep) in inner.seps.iter().enumerate() {
                    if let Some(max_left) = bounds[j].1 {
                        assert!(max_left < *sep);
                    }
                    if let Some(min_right) = bounds[j + 1].0 {
                        assert!(*sep <= min_right);
                    }
                }
                (bounds.iter().find_map(|b| b.0), bounds.iter().rev().find_map(|b| b.1))
            }
        }
    }

    fn leaves(node: &Node<u32>) -> (usize, usize) {
        match node {
            Node::Leaf(keys) => (1, keys.capacity()),
            Node::Inner(inner) => inner.children.iter().map(leaves).fold((0, 0), |(a, b), (c, d)| (a + c, b + d)),
        }
    }

    /// Keys added in order fill leaves completely, from either end, and no
    /// leaf holds room for more than one key past a full leaf.
    #[test]
    fn ordered_inserts_pack_leaves() {
        for reversed in [false, true] {
            let mut tree = RankedSet::default();
            for i in 0..10_000u32 {
                tree.insert(if reversed { 10_000 - i } else { i });
            }
            let (count, capacity) = leaves(&tree.root);
            assert!(count <= 10_000 / LEAF_MAX + 2, "{count} leaves");
            assert!(capacity <= count * LEAF_CAP, "{capacity} slots in {count} leaves");
            check_structure(&tree.root, true);
        }
    }

    #[test]
    fn grows_and_shrinks_through_many_levels() {
        let (mut tree, mut model) = (RankedSet::default(), BTreeSet::new());
        for i in 0..20_000u32 {
            let k = i.wrapping_mul(2_654_435_761) % 50_000;
            if model.insert(k) {
                tree.insert(k);
            }
        }
        check_against(&model, &tree);
        for i in 0..20_000u32 {
            let k = i.wrapping_mul(40_503) % 50_000;
            assert_eq!(tree.remove(&k), model.take(&k));
        }
        check_against(&model, &tree);
        let left: Vec<u32> = model.iter().copied().collect();
        for (i, k) in left.iter().enumerate() {
            let removed = if i % 2 == 0 { tree.remove(k) } else { tree.remove_at(0) };
            assert_eq!(removed, Some(*k));
        }
        assert!(tree.is_empty());
        assert_eq!(tree.first(), None);
        assert_eq!(tree.iter_from(0, true).next(), None);
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(ops in prop::collection::vec((0u8..3, 0u32..3000), 0..4000)) {
            let (mut tree, mut model) = (RankedSet::default(), BTreeSet::new());
            for (op, k) in ops {
                match op {
                    0 => {
                        if model.insert(k) {
                            tree.insert(k);
                        }
                    }
                    1 => prop_assert_eq!(tree.remove(&k), model.take(&k)),
                    _ => {
                        let rank = k as usize % (model.len() + 1);
                        let expected = model.iter().nth(rank).copied();
                        if let Some(e) = expected {
                            model.remove(&e);
                        }
                        prop_assert_eq!(tree.remove_at(rank), expected);
                    }
                }
            }
            check_against(&model, &tree);
            prop_assert_eq!(tree.first(), model.first());
            prop_assert_eq!(tree.last(), model.last());
        }
    }
}
