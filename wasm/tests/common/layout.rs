//! One small script under `first` (header 8, alignment 8, minimum block 24) and the exact
//! layout it must give, as offsets from the heap's start. The heap starts 64 KiB aligned on
//! every target, so the native engine (`native_layout.rs`) and the wasm module
//! (`suite/mod.rs`) must both give exactly these numbers.

#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// `name = malloc(size)`
    Malloc(&'static str, usize),
    /// `free(name)`
    Free(&'static str),
    /// `name = realloc(old, size)`
    Realloc(&'static str, &'static str, usize),
    /// `name = memalign(align, size)`
    Memalign(&'static str, usize, usize),
    /// `name = calloc(n, size)`
    Calloc(&'static str, usize, usize),
}

use Op::*;

/// Each op with the payload offset it must return (`None` for free).
pub const SCRIPT: [(Op, Option<u32>); 10] = [
    (Malloc("a", 24), Some(8)),         // 32-byte block at 0
    (Malloc("b", 40), Some(40)),        // 48 at 32
    (Malloc("c", 16), Some(88)),        // 24 at 80
    (Free("b"), None),                  // free 32:48
    (Malloc("d", 16), Some(40)),        // 24 at 32, split: 56:24 stays free
    (Free("a"), None),                  // free 0:32
    (Free("d"), None),                  // merges both ways: free 0:80
    (Realloc("e", "c", 100), Some(88)), // c is at the top: grows in place to 112, brk 192
    (Memalign("f", 64, 10), Some(64)),  // payload at 64: 56-byte lead stays free, 24 at 56
    (Calloc("g", 3, 5), Some(8)),       // 24 at 0 from the lead, 24:32 stays free
];

/// The blocks at the end: (offset, size, used, requested).
pub const BLOCKS: [(u32, u32, bool, u32); 4] = [
    (0, 24, true, 15),
    (24, 32, false, 0),
    (56, 24, true, 10),
    (80, 112, true, 100),
];

/// The free list at the end: (offset, size).
pub const FREE_LIST: [(u32, u32); 1] = [(24, 32)];

/// The break at the end, as an offset.
pub const BRK: u32 = 192;

/// Runs the script: `call(op, vars)` performs one op and returns the payload address (0 for
/// free); `vars(name)` gives the address a name holds. Returns the offsets seen.
pub fn run(
    start: usize,
    mut call: impl FnMut(Op, &dyn Fn(&str) -> usize) -> usize,
) -> Vec<Option<u32>> {
    let mut vars: Vec<(&'static str, usize)> = Vec::new();
    let mut seen = Vec::new();
    for (op, _) in SCRIPT {
        let addr = {
            let lookup = |n: &str| vars.iter().rev().find(|v| v.0 == n).map_or(0, |v| v.1);
            call(op, &lookup)
        };
        match op {
            Free(_) => seen.push(None),
            Malloc(n, ..) | Realloc(n, ..) | Memalign(n, ..) | Calloc(n, ..) => {
                vars.push((n, addr));
                seen.push(Some((addr - start) as u32));
            }
        }
    }
    seen
}

/// The offsets the script must return, in order.
pub fn expected() -> Vec<Option<u32>> {
    SCRIPT.iter().map(|s| s.1).collect()
}
