//! Heartbeats, spread over the interval: the streams are split into [`SLICES`] slices by
//! connection id and each tick serves one slice, so every stream gets one `heartbeat` per
//! `HEARTBEAT_INTERVAL` and a pod with many streams never writes to all of them at once
//! (a burst that would delay the events written in the same moment).

use std::sync::Arc;
use std::time::Duration;

use progress_contract::events::{Heartbeat, StreamEvent};
use progress_contract::time::now_millis;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Hub;
use crate::fanout::{Connection, Item};
use crate::frame;

/// How many slices a heartbeat interval is divided into.
pub const SLICES: u64 = 64;

/// The slice of a stream (its id is random, so slices are about equal).
pub fn slice_of(id: &Uuid) -> u64 {
    // Lossless: the remainder is below SLICES.
    (id.as_u128() % u128::from(SLICES)) as u64
}

impl Hub {
    /// Queues one `heartbeat` frame, shared by the open streams of `slice`.
    pub fn heartbeat(&self, slice: u64) {
        let due: Vec<Arc<Connection>> = self.table.with_streams(|streams| {
            streams
                .iter()
                .filter(|(id, _)| slice_of(id) == slice)
                .map(|(_, connection)| connection.clone())
                .collect()
        });
        if due.is_empty() {
            return;
        }
        let frame = frame::stream_event(&StreamEvent::Heartbeat(Heartbeat {
            timestamp: now_millis(),
        }));
        for connection in due {
            self.enqueue(&connection, Item::plain(frame.clone()));
        }
    }
}

/// Serves one slice every `every / SLICES` until `shutdown`.
pub async fn run(hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    let step = (every / u32::try_from(SLICES).unwrap_or(1)).max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + step, step);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slice = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {
                hub.heartbeat(slice);
                slice = (slice + 1) % SLICES;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_is_in_one_slice_and_slices_are_about_equal() {
        let mut sizes = [0usize; SLICES as usize];
        for _ in 0..64_000 {
            let slice = slice_of(&Uuid::new_v4());
            assert!(slice < SLICES);
            sizes[slice as usize] += 1;
        }
        // 1,000 expected per slice; a uniform draw stays well within ±25 %.
        for size in sizes {
            assert!((750..=1250).contains(&size), "slice sizes {sizes:?}");
        }
    }
}
