//! The suite under node: `wasm-pack test --node wasm/global`.
#![cfg(target_arch = "wasm32")]

mod suite;
