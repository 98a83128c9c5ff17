#![no_main]
//! `cargo +nightly fuzz run heap_ops`: see tests/fuzzing/mod.rs for what the bytes mean and
//! what must hold.

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::heap_ops(data));
