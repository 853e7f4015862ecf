//! The table's entries: one allocation per entry holding the chain link,
//! the value and the key, and the handles an index outside the table may
//! keep to them.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::ptr::NonNull;

pub(super) type Link<V> = Option<Node<V>>;

/// One entry in one allocation: the chain link and the value, then the
/// key's length (one byte, or 0xFF and four more bytes past 254) and the
/// key's bytes. A set member of a few bytes costs 16 bytes this way where a
/// node pointing at a boxed key would cost 24 plus the key's own 8 or 16.
/// Transparent over the pointer, so an all-zero `Link` is `None` (a new
/// table is zeroed memory).
#[repr(transparent)]
pub(super) struct Node<V> {
    ptr: NonNull<Head<V>>,
    _owns: PhantomData<Head<V>>,
}

#[repr(C)]
pub(super) struct Head<V> {
    next: Link<V>,
    value: V,
}

// SAFETY: a Node owns its allocation exclusively, like a Box<Head<V>>.
unsafe impl<V: Send> Send for Node<V> {}
// SAFETY: shared access only hands out shared references.
unsafe impl<V: Sync> Sync for Node<V> {}

const LONG_KEY: u8 = 0xFF;

impl<V> Node<V> {
    /// The allocation's layout, and the length of the key's length prefix.
    pub(super) fn layout(key_len: usize) -> (Layout, usize) {
        let prefix = if key_len < LONG_KEY as usize { 1 } else { 5 };
        let tail = Layout::array::<u8>(prefix + key_len).expect("key length fits a layout");
        (Layout::new::<Head<V>>().extend(tail).expect("node fits a layout").0, prefix)
    }

    pub(super) fn new(key: &[u8], value: V, next: Link<V>) -> Self {
        let len = u32::try_from(key.len()).expect("keys are shorter than 4 GiB");
        let (layout, prefix) = Self::layout(key.len());
        // SAFETY: the layout has a non-zero size (it holds at least the
        // prefix byte). The head is written at the start, which the layout
        // aligns for Head<V>; the prefix and key go in the bytes after it,
        // which the layout's size covers.
        unsafe {
            let base = alloc(layout);
            let Some(ptr) = NonNull::new(base.cast::<Head<V>>()) else {
                handle_alloc_error(layout);
            };
            ptr.as_ptr().write(Head { next, value });
            let tail = base.add(size_of::<Head<V>>());
            if prefix == 1 {
                tail.write(len as u8);
            } else {
                tail.write(LONG_KEY);
                tail.add(1).cast::<[u8; 4]>().write_unaligned(len.to_le_bytes());
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), tail.add(prefix), key.len());
            Node { ptr, _owns: PhantomData }
        }
    }

    pub(super) fn head(&self) -> &Head<V> {
        // SAFETY: ptr points to an initialised Head owned by self.
        unsafe { self.ptr.as_ref() }
    }

    pub(super) fn head_mut(&mut self) -> &mut Head<V> {
        // SAFETY: as above, and &mut self makes the access exclusive.
        unsafe { self.ptr.as_mut() }
    }

    /// The key's length and the offset of its first byte.
    pub(super) fn key_span(&self) -> (usize, usize) {
        // SAFETY: self owns a node that new() initialised.
        unsafe { key_span_at(self.ptr) }
    }

    pub(super) fn key(&self) -> &[u8] {
        // SAFETY: as above; the key lives as long as the node.
        unsafe { key_at(self.ptr) }
    }

    pub(super) fn value(&self) -> &V {
        &self.head().value
    }

    pub(super) fn value_mut(&mut self) -> &mut V {
        &mut self.head_mut().value
    }

    pub(super) fn next(&self) -> Option<&Node<V>> {
        self.head().next.as_ref()
    }

    pub(super) fn next_mut(&mut self) -> &mut Link<V> {
        &mut self.head_mut().next
    }

    /// Frees the node and gives its value back. The chain after it must
    /// have been taken off first.
    pub(super) fn into_value(self) -> V {
        debug_assert!(self.next().is_none());
        let this = std::mem::ManuallyDrop::new(self);
        let (layout, _) = Self::layout(this.key_span().0);
        // SAFETY: the value is read out once and the allocation freed with
        // the layout it was made with; ManuallyDrop keeps Drop from running
        // on the moved-out head. `next` is None, so nothing leaks.
        unsafe {
            let value = std::ptr::addr_of!((*this.ptr.as_ptr()).value).read();
            dealloc(this.ptr.as_ptr().cast(), layout);
            value
        }
    }
}

/// The key's length and the offset of its first byte in the node at
/// `ptr`.
///
/// # Safety
/// `ptr` is a node made by `Node::new` and not yet freed.
unsafe fn key_span_at<V>(ptr: NonNull<Head<V>>) -> (usize, usize) {
    let off = size_of::<Head<V>>();
    // SAFETY: new() wrote the prefix right after the head, within the
    // allocation.
    unsafe {
        let tail = ptr.as_ptr().cast::<u8>().add(off);
        match tail.read() {
            LONG_KEY => (u32::from_le_bytes(tail.add(1).cast::<[u8; 4]>().read_unaligned()) as usize, off + 5),
            len => (len as usize, off + 1),
        }
    }
}

/// The key of the node at `ptr`.
///
/// # Safety
/// As for `key_span_at`, and the node outlives `'a`.
unsafe fn key_at<'a, V>(ptr: NonNull<Head<V>>) -> &'a [u8] {
    // SAFETY: new() copied `len` key bytes at offset `at`; they are never
    // written again.
    unsafe {
        let (len, at) = key_span_at(ptr);
        std::slice::from_raw_parts(ptr.as_ptr().cast::<u8>().add(at), len)
    }
}

/// Where one entry lives, for an index kept beside the table (the
/// keyspace's list of keys with a TTL): an address, not a borrow. It
/// stays valid until that entry is removed, because a resize moves the
/// links to entries and never the entries themselves. Using one is
/// unsafe: its owner must drop it when it removes the entry.
pub struct Handle<V>(NonNull<Head<V>>);

impl<V> Node<V> {
    pub(super) fn handle(&self) -> Handle<V> {
        Handle(self.ptr)
    }
}

impl<V> Handle<V> {
    /// The entry's key.
    ///
    /// # Safety
    /// The entry has not been removed, and is not for as long as `'a`.
    pub(super) unsafe fn key<'a>(self) -> &'a [u8] {
        // SAFETY: the caller guarantees the node is live.
        unsafe { key_at(self.0) }
    }

    /// The entry's value.
    ///
    /// # Safety
    /// As for `key`, and nothing changes the value meanwhile.
    pub(super) unsafe fn value<'a>(self) -> &'a V {
        // SAFETY: as above.
        unsafe { &(*self.0.as_ptr()).value }
    }

    /// The entry's value, to change.
    ///
    /// # Safety
    /// As for `key`, and nothing else reads or changes the value meanwhile.
    pub(super) unsafe fn value_mut<'a>(self) -> &'a mut V {
        // SAFETY: as above.
        unsafe { &mut (*self.0.as_ptr()).value }
    }
}

impl<V> Clone for Handle<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Handle<V> {}

// SAFETY: a handle is an address; only the unsafe accessors below, whose
// callers hold the dict, read through it.
unsafe impl<V: Send> Send for Handle<V> {}
// SAFETY: as above.
unsafe impl<V: Sync> Sync for Handle<V> {}

impl<V> Drop for Node<V> {
    fn drop(&mut self) {
        let (layout, _) = Self::layout(self.key_span().0);
        // SAFETY: the head is initialised and owned; it is dropped in place
        // once and the allocation freed with the layout it was made with.
        unsafe {
            std::ptr::drop_in_place(self.ptr.as_ptr());
            dealloc(self.ptr.as_ptr().cast(), layout);
        }
    }
}
