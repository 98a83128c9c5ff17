//! Header corruption: a payload overflow writes over the next block's size and flags, as a
//! C program's off-by-a-few bug does. With a header of 8 bytes or more each header carries a
//! check tag (`src/policy/block.rs`), and `free`, `realloc` and `usable_size` refuse a block
//! whose header, or whose neighbours' headers, no longer match their tags — with
//! `HeapError::Corrupt` and a message that says what happened — and leave every byte of the
//! heap as it was; `check()` names the damaged block.
//!
//! The 4-byte header of the production allocator has no tag: what it can and cannot detect
//! is pinned down at the end of this file (and summarised in RELIABILITY.md).
#![cfg(feature = "std")]

use heaptale::event::NoObserver;
use heaptale::policy::block::{Compact, PREV_USED, USED};
use heaptale::policy::bt::Bt;
use heaptale::policy::tlsf::Tlsf;
use heaptale::policy::Policy;
use heaptale::source::Arena;
use heaptale::{Config, Heap, HeapError, PolicyKind};

/// The boundary-tag policies (buddy has its own header: see the buddy tests below).
const BT: [PolicyKind; 6] = [
    PolicyKind::First,
    PolicyKind::Next,
    PolicyKind::Best,
    PolicyKind::Worst,
    PolicyKind::Seglist,
    PolicyKind::Tlsf,
];

fn heap(policy: PolicyKind, header: u32) -> Heap<Arena> {
    Heap::new(
        Arena::new(1 << 20).unwrap(),
        &Config {
            policy,
            header,
            ..Config::default()
        },
    )
    .unwrap()
}

/// The real address of a reported one (what a C program's pointer would be).
fn raw<S: heaptale::source::Source, P: Policy>(h: &Heap<S, P>, addr: usize) -> *mut u8 {
    h.mem().base_ptr().wrapping_add(addr - h.start())
}

/// A buggy program writes `v` at `addr` (past the end of some payload): the overflow.
fn overflow<S: heaptale::source::Source, P: Policy>(h: &mut Heap<S, P>, addr: usize, v: u32) {
    assert!(addr >= h.start() && addr + 4 <= h.brk());
    // SAFETY: inside the heap's memory (asserted), which the arena owns; this is the bug
    // being simulated, not a use of the API.
    unsafe { raw(h, addr).cast::<u32>().write_unaligned(v) }
}

fn read<S: heaptale::source::Source, P: Policy>(h: &Heap<S, P>, addr: usize) -> u32 {
    u32::from_le_bytes(h.bytes(addr, 4).try_into().unwrap())
}

/// Every byte of the heap and the break.
fn image<S: heaptale::source::Source, P: Policy>(h: &Heap<S, P>) -> (Vec<u8>, usize) {
    (h.bytes(h.start(), h.brk() - h.start()).to_vec(), h.brk())
}

/// `call` must be refused as corruption at `at` with a message that contains `says`, and
/// change nothing.
fn refused(
    h: &mut Heap<Arena>,
    what: &str,
    at: usize,
    says: &str,
    call: impl FnOnce(&mut Heap<Arena>) -> Result<(), HeapError>,
) {
    let before = image(h);
    match call(h) {
        Err(HeapError::Corrupt { addr, what: why }) => {
            assert_eq!(addr, at, "{what}: reported at the wrong block");
            let msg = HeapError::Corrupt { addr, what: why }.to_string();
            assert!(
                msg.starts_with(&format!("heap corruption at {at:#x}: ")),
                "{what}: {msg}"
            );
            assert!(
                msg.contains(says),
                "{what}: the message does not say what happened: {msg}"
            );
        }
        other => panic!("{what}: expected a refusal as corruption, got {other:?}"),
    }
    assert!(
        image(h) == before,
        "{what}: the refused call changed the heap"
    );
}

/// Three used blocks a, b, c of 24 bytes (c keeps b off the top of the heap).
fn three(h: &mut Heap<Arena>) -> [usize; 3] {
    [
        h.malloc(24).unwrap(),
        h.malloc(24).unwrap(),
        h.malloc(24).unwrap(),
    ]
}

#[test]
fn an_overwritten_size_is_refused_by_every_call_and_named_by_check() {
    for policy in BT {
        for header in [8, 16] {
            let what = format!("{policy}, header {header}");
            let mut h = heap(policy, header);
            let [a, b, c] = three(&mut h);
            let hb = b - header as usize; // b's header, just past a's payload
            assert_eq!(
                a + h.usable_size(a).unwrap(),
                hb,
                "{what}: a's payload ends at b's header"
            );
            // The overflow: a's program writes 4 bytes past its payload, a plausible size.
            let word = read(&h, hb);
            overflow(&mut h, hb, (word & (USED | PREV_USED)) | 64);
            let says = "header was overwritten";
            refused(&mut h, &what, hb, says, |h| h.free(b));
            refused(&mut h, &what, hb, says, |h| h.realloc(b, 100).map(drop));
            refused(&mut h, &what, hb, says, |h| h.usable_size(b).map(drop));
            // a's own header is fine, but freeing it would merge with (or trust) b's header.
            refused(
                &mut h,
                &what,
                hb,
                "header of the block after this one was overwritten",
                |h| h.free(a),
            );
            refused(
                &mut h,
                &what,
                hb,
                "header of the block after this one was overwritten",
                |h| h.realloc(a, 1000).map(drop),
            );
            // The checker names the block.
            match h.check() {
                Err(HeapError::Corrupt { addr, what: why }) => {
                    assert_eq!(addr, hb, "{what}");
                    assert!(
                        why.contains("check tag") || why.contains("tile"),
                        "{what}: {why}"
                    );
                }
                other => panic!("{what}: check() gave {other:?}"),
            }
            // Put the header back: everything works again, nothing was lost.
            overflow(&mut h, hb, word);
            h.check().unwrap();
            for p in [a, b, c] {
                h.free(p).unwrap();
            }
            h.check().unwrap();
        }
    }
}

#[test]
fn an_implausible_size_and_a_cleared_used_bit_are_refused() {
    for policy in BT {
        let what = format!("{policy}");
        let mut h = heap(policy, 8);
        let [_a, b, _c] = three(&mut h);
        let hb = b - 8;
        let word = read(&h, hb);
        for bad in [0, 0xFFFF_FFFF, word & !USED, word ^ 8, 0x4141_4141] {
            overflow(&mut h, hb, bad);
            refused(
                &mut h,
                &format!("{what}, header {bad:#x}"),
                hb,
                "header was overwritten",
                |h| h.free(b),
            );
            assert!(h.check().is_err(), "{what}: check() passed over {bad:#x}");
        }
        overflow(&mut h, hb, word);
        h.check().unwrap();
    }
}

#[test]
fn a_cleared_previous_used_bit_is_refused() {
    // The overflow clears only b's P bit: b's own tag still matches (P is not tagged), but
    // free(b) would read a's payload as the footer of a free block and merge with garbage.
    for policy in BT {
        let what = format!("{policy}");
        let mut h = heap(policy, 8);
        let [_a, b, _c] = three(&mut h);
        let hb = b - 8;
        let word = read(&h, hb);
        overflow(&mut h, hb, word & !PREV_USED);
        refused(&mut h, &what, hb, "says the block before it is free", |h| {
            h.free(b)
        });
        refused(&mut h, &what, hb, "says the block before it is free", |h| {
            h.realloc(b, 5000).map(drop)
        });
        assert!(h.check().is_err());
        overflow(&mut h, hb, word);
        h.check().unwrap();
    }
}

#[test]
fn a_damaged_free_neighbour_is_refused() {
    // b is free between used a and c; a's overflow hits b's header. Freeing a or c would
    // merge with b.
    for policy in BT {
        let what = format!("{policy}");
        let mut h = heap(policy, 8);
        let [a, b, c] = three(&mut h);
        h.free(b).unwrap();
        let hb = b - 8;
        let word = read(&h, hb);
        overflow(&mut h, hb, (word & PREV_USED) | 2000);
        refused(
            &mut h,
            &what,
            hb,
            "header of the block after this one was overwritten",
            |h| h.free(a),
        );
        refused(
            &mut h,
            &what,
            c - 8,
            "says the block before it is free",
            |h| h.free(c),
        );
        // A free of b itself: its tag says "free", so the header was overwritten (it is not
        // mistaken for a live block of 2000 bytes).
        refused(&mut h, &what, hb, "header was overwritten", |h| h.free(b));
        overflow(&mut h, hb, word);
        h.check().unwrap();
        h.free(a).unwrap();
        h.free(c).unwrap();
        h.check().unwrap();
    }
}

#[test]
fn overflows_that_reach_the_tag_word_too() {
    // 8 bytes past a's payload: size and tag both overwritten. The block is no longer
    // recognisable: free(b) is refused (as an interior pointer or as corruption), free(a)
    // as corruption of the next block, and check() names b.
    for policy in BT {
        let what = format!("{policy}");
        let mut h = heap(policy, 8);
        let [a, b, _c] = three(&mut h);
        let hb = b - 8;
        let saved = (read(&h, hb), read(&h, hb + 4));
        overflow(&mut h, hb, 0x6161_6161);
        overflow(&mut h, hb + 4, 0x6161_6161);
        let before = image(&h);
        assert!(
            matches!(
                h.free(b),
                Err(HeapError::Interior { .. } | HeapError::Corrupt { .. })
            ),
            "{what}"
        );
        refused(
            &mut h,
            &what,
            hb,
            "header of the block after this one was overwritten",
            |h| h.free(a),
        );
        assert!(image(&h) == before);
        assert!(
            matches!(h.check(), Err(HeapError::Corrupt { addr, .. }) if addr == hb),
            "{what}"
        );
        overflow(&mut h, hb, saved.0);
        overflow(&mut h, hb + 4, saved.1);
        h.check().unwrap();
    }
}

#[test]
fn buddy_headers_carry_a_magic_and_a_tag() {
    let mut h = heap(PolicyKind::Buddy, 8);
    let [a, b, _c] = three(&mut h);
    let hb = b - 8;
    let word = read(&h, hb);
    for bad in [0, word ^ 1, word & !0x8000, 0x4141_4141] {
        overflow(&mut h, hb, bad);
        let before = image(&h);
        assert!(h.free(b).is_err(), "buddy: header {bad:#x} accepted");
        assert!(h.realloc(b, 100).is_err());
        assert!(
            image(&h) == before,
            "buddy: a refused call changed the heap"
        );
        assert!(h.check().is_err(), "buddy: check() passed over {bad:#x}");
    }
    overflow(&mut h, hb, word);
    h.check().unwrap();
    h.free(a).unwrap();
    h.check().unwrap();
}

// ---- the production geometry: a 4-byte header, no tag ----------------------------------

type Production = Heap<Arena, Bt<Tlsf, Compact>>;

fn production(quick: u32) -> Production {
    Heap::with_policy(
        Arena::new(1 << 20).unwrap(),
        Bt::new(Compact, true, Tlsf::new()).with_quick_lists(quick),
        NoObserver,
        None,
    )
    .unwrap()
}

/// What a 4-byte header detects: sizes that cannot be (not a multiple of 8, below the
/// smallest block, past the break), a block marked free (a double free outside the quick
/// lists), a next block whose previous-used bit disagrees.
#[test]
fn the_four_byte_header_detects_impossible_headers() {
    let mut h = production(0);
    let a = h.malloc(24).unwrap();
    let b = h.malloc(24).unwrap();
    let _c = h.malloc(24).unwrap();
    let hb = b - 4;
    let word = read(&h, hb);
    for bad in [
        word & !0x3FFF_FFFF | 3,
        word & !0x3FFF_FFFF | 8,
        word | 0x3FF0_0000,
        word & !USED,
    ] {
        overflow(&mut h, hb, bad);
        let before = image(&h);
        assert!(h.free(b).is_err(), "header {bad:#x} accepted");
        assert!(image(&h) == before);
        assert!(h.check().is_err(), "check() passed over {bad:#x}");
    }
    overflow(&mut h, hb, word);
    h.check().unwrap();
    // A double free outside the quick lists.
    h.free(a).unwrap();
    assert_eq!(h.free(a), Err(HeapError::DoubleFree { addr: a }));
}

/// What it cannot detect: a plausible size — one that ends on a real block boundary — passes
/// `free`, which then frees the live block after it too; `check()` cannot see it afterwards
/// (the blocks still tile the heap), the swallowed block is refused from then on, and the
/// next allocation overlaps it. Inside quick lists a block stays "used", so its header cannot
/// show a double free: the checked `free` looks the block up in the quick lists instead. And
/// `heaptale::Allocator` validates nothing in release builds (GlobalAlloc's
/// callers are trusted); debug builds validate every pointer.
#[test]
fn the_four_byte_header_cannot_detect_plausible_sizes_but_quick_list_double_frees_are_looked_up() {
    let mut h = production(0);
    let _a = h.malloc(24).unwrap();
    let b = h.malloc(24).unwrap();
    let c = h.malloc(200).unwrap();
    let _d = h.malloc(24).unwrap();
    let hb = b - 4;
    let word = read(&h, hb);
    // b's block is 32 bytes and c's 208: the overflow makes b 240, ending where d starts.
    overflow(&mut h, hb, (word & (USED | PREV_USED)) | 240);
    assert_eq!(
        h.free(b),
        Ok(()),
        "the 4-byte header cannot tell a plausible size from the real one"
    );
    assert_eq!(h.check(), Ok(()), "the blocks still tile the heap");
    // c's own header is intact but the block after it now says its predecessor is free:
    // c is refused from now on, too late.
    assert_eq!(h.free(c), Err(HeapError::Interior { addr: c }));
    let e = h.malloc(200).unwrap();
    assert!(
        e < c + 200 && c < e + 200,
        "the next block overlaps the live c"
    );

    // A quick-list block stays marked used, so its header cannot tell; the checked `free`
    // (the playground's) looks it up in the quick lists and refuses it. The production
    // allocator, which trusts its callers, does not look.
    let mut h = production(256);
    let a = h.malloc(24).unwrap();
    let _b = h.malloc(24).unwrap();
    h.free(a).unwrap();
    assert_eq!(h.free(a), Err(HeapError::DoubleFree { addr: a }));
    assert_eq!(h.check(), Ok(()), "the refused free changed nothing");
    assert_eq!(h.malloc(24), Ok(a), "a is handed out once");
    assert_ne!(h.malloc(24).unwrap(), a);
}
