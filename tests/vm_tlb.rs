//! The TLB: hits and misses for a small stream of page numbers, worked out by hand for three
//! geometries of 4 entries. Stream: 0 1 2 0 4 2 1 3 0 6; a miss inserts the translation,
//! replacing the least recently used entry of the page's set (set = vpn % sets).
#![cfg(feature = "alloc")]

use heaptale::vm::tlb::{Tlb, TlbConfig};
use heaptale::vm::VmError;

const STREAM: [u64; 10] = [0, 1, 2, 0, 4, 2, 1, 3, 0, 6];

/// "H"/"M" per access and the pages displaced on the way.
fn run(entries: u32, ways: u32) -> (String, Vec<u64>, Tlb) {
    let mut tlb = Tlb::new(&TlbConfig { entries, ways }).unwrap();
    let mut hm = String::new();
    let mut displaced = vec![];
    for &v in &STREAM {
        match tlb.lookup(v) {
            Some(e) => {
                assert_eq!(e.frame, v + 0x100);
                hm.push('H');
            }
            None => {
                hm.push('M');
                displaced.extend(tlb.insert(v, v + 0x100, true, false));
            }
        }
    }
    (hm, displaced, tlb)
}

#[test]
fn two_way_two_sets() {
    // Set 0 takes the even pages, set 1 the odd ones, two ways each.
    // 0 M; 1 M; 2 M (set 0: 0 2); 0 H; 4 M, evicts 2 (0 was used after it); 2 M, evicts 0;
    // 1 H; 3 M (set 1: 1 3); 0 M, evicts 4; 6 M, evicts 2. 2 hits, 8 misses.
    let (hm, displaced, tlb) = run(4, 2);
    assert_eq!(hm, "MMMHMMHMMM");
    assert_eq!(displaced, [2, 0, 4, 2]);
    assert_eq!(
        (tlb.hits(), tlb.misses(), tlb.sets(), tlb.ways()),
        (2, 8, 2, 2)
    );
    assert!((tlb.hit_rate() - 0.2).abs() < 1e-12);
}

#[test]
fn fully_associative() {
    // 0 1 2 M; 0 H; 4 M (now full: 0 1 2 4); 2 H; 1 H; 3 M evicts 0 (least recently used);
    // 0 M evicts 4; 6 M evicts 2. 3 hits, 7 misses.
    for ways in [0, 4] {
        let (hm, displaced, tlb) = run(4, ways);
        assert_eq!(hm, "MMMHMHHMMM");
        assert_eq!(displaced, [0, 4, 2]);
        assert_eq!((tlb.hits(), tlb.misses(), tlb.sets()), (3, 7, 1));
    }
}

#[test]
fn direct_mapped() {
    // Four sets of one: 0 and 4 share set 0, 2 and 6 set 2.
    // 0 1 2 M; 0 H; 4 M evicts 0; 2 H; 1 H; 3 M; 0 M evicts 4; 6 M evicts 2. 3 hits.
    let (hm, displaced, tlb) = run(4, 1);
    assert_eq!(hm, "MMMHMHHMMM");
    assert_eq!(displaced, [0, 4, 2]);
    assert_eq!((tlb.hits(), tlb.misses(), tlb.sets()), (3, 7, 4));
}

#[test]
fn invalidate_and_flush() {
    let (_, _, mut tlb) = run(4, 2);
    assert!(tlb.probe(6).is_some());
    tlb.invalidate(6);
    assert!(tlb.probe(6).is_none());
    assert_eq!(tlb.lookup(6), None);
    tlb.insert(6, 1, false, false);
    tlb.set_dirty(6);
    assert!(tlb.probe(6).unwrap().dirty);
    tlb.flush();
    assert!(tlb.slots().iter().all(|s| s.is_none()));
    assert_eq!(tlb.misses(), 9, "the lookup after invalidate missed");
}

#[test]
fn knobs() {
    let bad = |entries, ways| {
        matches!(
            Tlb::new(&TlbConfig { entries, ways }),
            Err(VmError::BadKnob(_))
        )
    };
    assert!(bad(0, 0));
    assert!(bad(4097, 1));
    assert!(bad(4, 3), "3 ways do not divide 4 entries");
    assert!(bad(4, 8));
    assert!(!bad(6, 3), "sets need not be a power of two");
    assert_eq!(Tlb::new(&TlbConfig::default()).unwrap().sets(), 16);
}
