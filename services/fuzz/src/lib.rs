//! Shared by the fuzz targets.

use std::sync::Once;

/// The résumé parsers catch the panics of the PDF library on hostile input and turn them into
/// errors: that is their contract. libFuzzer's panic hook would abort on those caught panics,
/// so the targets replace it with a silent one. A panic that escapes a parser still reaches
/// libfuzzer-sys, which reports it as a crash.
pub fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}
