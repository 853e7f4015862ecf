//! The RESP2 wire format, and nothing else: `request` turns bytes from a
//! client into argument lists, `reply` is the only code that writes protocol
//! bytes. This module never imports `commands`, `store` or `net`.

pub mod reply;
pub mod request;

pub use reply::Reply;
pub use request::{Args, ParseLimits, ProtocolError, RequestParser};
