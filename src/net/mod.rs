//! Sockets only: SO_REUSEPORT listeners, one mio event loop per thread,
//! connection buffers, and the mailbox other threads use to reach a loop.
//! Nothing here knows a command; complete requests go to
//! `commands::dispatch`.

pub mod connection;
pub mod event_loop;
pub mod listener;
pub mod mailbox;
