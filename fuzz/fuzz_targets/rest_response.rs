//! Fuzz target `rest_response`: see `checks.rs` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod checks;

fuzz_target!(|data: &[u8]| {
    checks::rest_response(data);
});
