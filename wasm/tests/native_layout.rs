//! The native engine gives the layout `common/layout.rs` states (the wasm suite checks the
//! module against the same numbers). Native only: `cargo test -p heaptale-wasm`.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/layout.rs"]
mod layout;

use heaptale::source::Arena;
use heaptale::{Config, Heap};
use layout::Op;

#[test]
fn native_engine_gives_the_stated_layout() {
    let mut h = Heap::new(Arena::new(1 << 20).expect("arena"), &Config::default()).expect("heap");
    let start = h.start();
    let seen = layout::run(start, |op, var| match op {
        Op::Malloc(_, n) => h.malloc(n).unwrap(),
        Op::Free(v) => {
            h.free(var(v)).unwrap();
            0
        }
        Op::Realloc(_, v, n) => h.realloc(var(v), n).unwrap(),
        Op::Memalign(_, a, n) => h.memalign(a, n).unwrap(),
        Op::Calloc(_, n, s) => h.calloc(n, s).unwrap(),
    });
    assert_eq!(seen, layout::expected());
    let mut blocks = Vec::new();
    h.walk(|b| blocks.push((b.block, b.size, b.used)));
    let want: Vec<_> = layout::BLOCKS.iter().map(|b| (b.0, b.1, b.2)).collect();
    assert_eq!(blocks, want);
    let mut free = Vec::new();
    h.free_lists(|_, b| free.push(b));
    assert_eq!(
        free,
        layout::FREE_LIST.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    assert_eq!(h.brk() - start, layout::BRK as usize);
    h.check().unwrap();
}
