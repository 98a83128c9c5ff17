//! The wasm suite in a browser: `wasm-pack test --headless --chrome wasm`. (`node.rs` runs
//! the same suite under node; each runner skips the other file.)
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod suite;
