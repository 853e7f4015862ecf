//! Frees big things on a thread of its own. Dropping millions of entries
//! (FLUSHALL ASYNC) or handing a table of a hundred megabytes back to the
//! kernel (the end of a resize) takes milliseconds that no event loop
//! should spend while clients wait.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

type Garbage = (Box<dyn Send>, u64);

/// Objects handed over and not yet freed (INFO's lazyfree_pending_objects).
static PENDING: AtomicU64 = AtomicU64::new(0);

/// The freeing thread's queue, started on first use; `None` if the thread
/// could not be started (everything is then freed in place).
fn queue() -> Option<&'static Sender<Garbage>> {
    static QUEUE: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Garbage>();
            let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
                for (garbage, objects) in rx {
                    drop(garbage);
                    PENDING.fetch_sub(objects, Relaxed);
                }
            });
            spawned.is_ok().then_some(tx)
        })
        .as_ref()
}

/// Drops `value`, which holds `objects` keys or values, on the freeing
/// thread.
pub fn free_later<T: Send + 'static>(value: T, objects: u64) {
    match queue() {
        Some(tx) => {
            PENDING.fetch_add(objects, Relaxed);
            if let Err(back) = tx.send((Box::new(value), objects)) {
                PENDING.fetch_sub(objects, Relaxed);
                drop(back);
            }
        }
        None => drop(value),
    }
}

/// Objects waiting to be freed.
pub fn pending() -> u64 {
    PENDING.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    struct Flag(Arc<AtomicBool>, std::thread::ThreadId);

    impl Drop for Flag {
        fn drop(&mut self) {
            // Dropped, and not on the thread that handed it over.
            self.0.store(std::thread::current().id() != self.1, SeqCst);
        }
    }

    #[test]
    fn frees_on_another_thread() {
        let dropped = Arc::new(AtomicBool::new(false));
        super::free_later(Flag(dropped.clone(), std::thread::current().id()), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dropped.load(SeqCst) {
            assert!(Instant::now() < deadline, "not freed on the freeing thread");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
