//! heaptale's face in JavaScript: the wasm-bindgen layer that the playground and node use.
//!
//! ```js
//! import init, { Heap, policies, wasmMemory, moduleMemory } from './pkg/heaptale.js';
//! await init();
//! policies();                              // [{name, description, has_order}, ...]
//! const h = new Heap({ policy: 'first', order: 'addr', coalesce: true, header: 8, align: 8 });
//! // also heapSize (a fixed heap) and base (the address reports give the heap's start)
//! const p = h.malloc(24);                  // also free, realloc, calloc, memalign, usableSize
//! h.blocks(); h.blocksPacked(); h.freeList(); h.freeLists(); h.stats(); h.check();
//! h.heapStart(); h.brk(); h.memoryBytes(); h.events(); h.bytes(p, 24);
//! h.realStart(); h.memoryEnd();            // where the bytes really are, memory.size as reported
//! h.run('q = malloc(40)');                 // {text, addr, error}
//! h.replay(repText);                       // {ops, peak_live_bytes, ..., error}
//! h.free(p);
//! h.free();                                // releases the heap itself
//! ```
//!
//! - One user heap per WebAssembly instance ([`instance`]): it owns `memory.grow`, and its
//!   break is the instance's real break. A new `Heap` replaces the live one at the same start
//!   address; `heap.free()` (no argument) releases it.
//! - The module's own allocations (glue, Vecs, strings, event buffers) go to a fixed static
//!   arena managed by heaptale itself ([`arena`]), so they never grow linear memory.
//! - Errors are values: bad arguments and failed calls throw a JS `Error` with the engine's
//!   message and leave the heap and the instance usable. Nothing traps.
//!
//! Everything here is for wasm32; on other targets the crate is empty.

#[cfg(target_arch = "wasm32")]
pub mod arena;
#[cfg(target_arch = "wasm32")]
mod args;
#[cfg(target_arch = "wasm32")]
pub mod heap;
#[cfg(target_arch = "wasm32")]
pub mod instance;
#[cfg(target_arch = "wasm32")]
pub mod play;
#[cfg(target_arch = "wasm32")]
pub mod process;
#[cfg(target_arch = "wasm32")]
pub mod timeline;
#[cfg(target_arch = "wasm32")]
mod traces;

#[cfg(target_arch = "wasm32")]
pub use heap::JsHeap;
#[cfg(target_arch = "wasm32")]
pub use process::JsProcess;

/// The module's allocator: heaptale over a 64 MiB static arena (see [`arena`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: arena::ArenaAlloc = arena::ArenaAlloc::new();

#[cfg(target_arch = "wasm32")]
pub use exports::{module_memory, policies, wasm_memory};

#[cfg(target_arch = "wasm32")]
mod exports {
    use heaptale::PolicyKind;
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::prelude::*;

    /// The policies: `[{name, description}, ...]`, in the order of `PolicyKind::ALL`.
    #[wasm_bindgen]
    pub fn policies() -> Array {
        let out = Array::new();
        for p in PolicyKind::ALL {
            let o = Object::new();
            let _ = Reflect::set(&o, &"name".into(), &p.name().into());
            let _ = Reflect::set(&o, &"description".into(), &p.description().into());
            let _ = Reflect::set(&o, &"has_order".into(), &p.has_order().into());
            out.push(&o);
        }
        out
    }

    /// The instance's `WebAssembly.Memory`, for typed-array views over linear memory
    /// (re-create views after any call that may grow memory: growth detaches the old buffer).
    ///
    /// Named `wasmMemory`, not `memory`: wasm-bindgen gives a JS export the name of its wasm
    /// export, and the module already exports its memory as `memory` (a function of that name
    /// makes the module invalid: "Duplicate export name 'memory'"). The object `init()`
    /// resolves to has the same memory as its `.memory`.
    #[wasm_bindgen(js_name = wasmMemory)]
    pub fn wasm_memory() -> JsValue {
        wasm_bindgen::memory()
    }

    /// Where the module's own memory is: `{arena_start, arena_end, arena_used}` (the arena
    /// its allocator uses, below the user's heap), so a UI can show it honestly.
    #[wasm_bindgen(js_name = moduleMemory)]
    pub fn module_memory() -> Object {
        let (start, end) = crate::arena::bounds();
        let (used, _) = crate::arena::usage();
        let o = Object::new();
        let _ = Reflect::set(&o, &"arena_start".into(), &(start as f64).into());
        let _ = Reflect::set(&o, &"arena_end".into(), &(end as f64).into());
        let _ = Reflect::set(&o, &"arena_used".into(), &(used as f64).into());
        o
    }
}
