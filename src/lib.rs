//! KVStore: a Redis 7.0 drop-in server.
//!
//! The request path, in reading order: `net` accepts connections on one
//! mio event loop per thread (each with its own SO_REUSEPORT listener) and
//! reads bytes; `resp` parses them into commands and writes replies;
//! `commands` checks each command (lookup, arity, auth) and runs its
//! handler under the shard locks of its keys; `store` holds the keyspace,
//! split into shards by Redis Cluster hash slot, each shard a mutex over
//! its own tables. `server` starts and stops the threads; `config` is the
//! one table of settings.

pub mod client;
pub mod commands;
pub mod config;
pub mod evict;
pub mod glob;
pub mod latency;
pub mod lazyfree;
pub mod memory;
pub mod net;
pub mod notify;
pub mod pause;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod resp;
pub mod server;
pub mod shutdown;
pub mod stats;
pub mod store;

pub use config::Config;
pub use server::Server;
