//! How the gateway takes memory from the kernel.
//!
//! Transparent huge pages are turned off for the process. The allocator asks for them on its
//! arenas, and a reconnect storm is then mostly the kernel zeroing fresh 2 MiB pages: thousands
//! of requests in flight at once grow the heap, their memory is given back once the storm has
//! passed, and the next growth zeroes whole huge pages again. With 4 KiB pages only the memory
//! touched is zeroed. Measured on a 15,000-stream storm (docs/benchmarks.md): about a third
//! less CPU per reconnect, the same cost per stream opened and per delivery.

/// Turns transparent huge pages off for this process (a no-op where the kernel cannot).
pub fn use_small_pages() {
    if let Err(error) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(%error, "transparent huge pages could not be turned off");
    }
}
