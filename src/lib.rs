//! # heaptale
//!
//! A memory allocator for WebAssembly that grows its heap with `memory.grow` (wasm's `sbrk`),
//! and the engine behind a playground that draws that allocator at work.
//!
//! One engine, many faces: the same code is
//! - [`Heap`]: a heap with a run-time selectable [`policy`] (first/next/best/worst fit with
//!   every list order, segregated lists, TLSF, binary buddy), observable through [`event`]s,
//!   checkable with [`Heap::check`];
//! - the production [`Allocator`] (`#[global_allocator]`), which is the TLSF policy over
//!   `memory.grow` with a no-op observer;
//! - the trace replayer behind the `heaptale` command line tool ([`trace`], feature `alloc`).
//!
//! With `default-features = false` the crate is `no_std` and pulls in no dependency at all.
//!
//! ## Addresses
//! Every block lives in real memory handed out by a [`source::Source`]. Internally the engine
//! speaks of *offsets* from the heap's start (so the heap's bytes are the same on every
//! target); the public API reports addresses as `base + offset`, where `base` is the real
//! address of the heap on wasm32 and a fixed virtual address (`0x10000` unless configured)
//! over the native arena. That is what makes layouts deterministic across targets.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod allocator;
pub mod error;
pub mod event;
pub mod heap;
pub mod policy;
pub mod source;

#[cfg(feature = "alloc")]
pub mod trace;
#[cfg(feature = "alloc")]
pub mod vm;

pub use allocator::Allocator;
pub use error::HeapError;
pub use event::{Event, NoObserver, Observer};
pub use heap::{BlockInfo, Heap, Stats};
pub use policy::{Config, Fit, Order, PolicyKind};
