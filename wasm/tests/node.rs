//! The wasm suite under node: `wasm-pack test --node wasm`. (`browser.rs` runs the same suite
//! in headless Chromium; each runner skips the other file.)
#![cfg(target_arch = "wasm32")]

mod suite;
