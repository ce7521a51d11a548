//! Fuzz target `stream_frame`: see `checks.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod checks;

fuzz_target!(|data: &[u8]| {
    checks::stream_frame(data);
});
