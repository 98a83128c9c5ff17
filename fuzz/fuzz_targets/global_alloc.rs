#![no_main]
//! `cargo +nightly fuzz run global_alloc`: see tests/fuzzing/mod.rs for what the bytes mean and
//! what must hold.

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::global_alloc(data));
