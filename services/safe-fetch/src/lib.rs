//! Downloads from user-supplied URLs that cannot be turned against the network they run in
//! (server-side request forgery).
//!
//! - [`policy`]: what may be fetched (schemes, hosts, size, time, redirects).
//! - [`address`]: which IP addresses are off limits (loopback, private, link-local and cloud
//!   metadata, …).
//! - [`resolver`]: DNS resolution that refuses a name if any answer is off limits, so the
//!   check holds for every connection, every redirect hop and DNS rebinding.
//! - [`client`]: the fetcher: manual redirects re-checked hop by hop, a streamed size cap.
//! - [`error`]: what went wrong, and whether retrying could help.

pub mod address;
pub mod client;
pub mod error;
pub mod policy;
mod resolver;

pub use address::is_forbidden_ip;
pub use client::{Fetched, SafeFetcher};
pub use error::FetchError;
pub use policy::FetchPolicy;
