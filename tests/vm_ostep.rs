//! OSTEP's paging knobs: the exercises of `paging-linear-translate.py`, line for line.
//!
//! The expected texts are what the script prints between "Page Table" and the end of the
//! trace for the same knobs (its `ARG` lines and prose left out). The first is the example in
//! OSTEP's own homework README (`-s 0`, the defaults, `-c`); the others were printed by a
//! Python run of the script's algorithm (CPython's `random`, seeded the same way).
#![cfg(feature = "alloc")]

use heaptale::vm::ostep::{generate, OstepKnobs};
use heaptale::vm::{Mt19937, VmError};

#[test]
fn python_random_is_reproduced() {
    // random.seed(0); [random.random() for _ in range(4)]
    let mut r = Mt19937::new(0);
    let got: Vec<f64> = (0..4).map(|_| r.random()).collect();
    assert_eq!(
        got,
        [
            0.8444218515250481,
            0.7579544029403025,
            0.420571580830845,
            0.25891675029296335
        ]
    );
    // random.seed(2**40 + 5): a seed of two 32-bit words.
    let mut r = Mt19937::new((1 << 40) + 5);
    let x = r.random();
    assert!((0.0..1.0).contains(&x));
}

#[test]
fn the_readme_example_seed_0() {
    let ex = generate(&OstepKnobs::default()).unwrap();
    assert_eq!(ex.page_table, vec![Some(12), None, None, Some(6)]);
    assert_eq!(
        ex.render(false, true),
        "Page Table (from entry 0 down to the max size)
  0x8000000c
  0x00000000
  0x00000000
  0x80000006

Virtual Address Trace
  VA 0x00003229 (decimal:    12841) --> 00006229 (decimal    25129) [VPN 3]
  VA 0x00001369 (decimal:     4969) -->  Invalid (VPN 1 not valid)
  VA 0x00001e80 (decimal:     7808) -->  Invalid (VPN 1 not valid)
  VA 0x00002556 (decimal:     9558) -->  Invalid (VPN 2 not valid)
  VA 0x00003a1e (decimal:    14878) --> 00006a1e (decimal    27166) [VPN 3]
"
    );
    // Worked by hand: 0x3229 = VPN 3 (0x3229 >> 12), offset 0x229; VPN 3 maps to PFN 6, so
    // the physical address is 6 << 12 | 0x229 = 0x6229.
    let t = ex.translate(0x3229);
    assert_eq!((t.vpn, t.paddr), (3, Some(0x6229)));
}

#[test]
fn other_knobs_verbose_and_unsolved() {
    let k = OstepKnobs {
        address_space: 32 << 10,
        phys_mem: 1 << 20,
        page_size: 1024,
        percent_valid: 75,
        count: 6,
        seed: 1,
        addresses: None,
    };
    let text = generate(&k).unwrap().render(true, true);
    let want = include_str!("vm_ostep_seed1.txt");
    assert_eq!(text, want);

    let k = OstepKnobs {
        address_space: 64,
        phys_mem: 256,
        page_size: 16,
        percent_valid: 50,
        count: 4,
        seed: 2,
        addresses: None,
    };
    assert_eq!(
        generate(&k).unwrap().render(false, false),
        "Page Table (from entry 0 down to the max size)
  0x8000000f
  0x00000000
  0x00000000
  0x8000000b

Virtual Address Trace
  VA 0x0000002a (decimal:       42) --> PA or invalid address?
  VA 0x00000013 (decimal:       19) --> PA or invalid address?
  VA 0x00000026 (decimal:       38) --> PA or invalid address?
  VA 0x00000026 (decimal:       38) --> PA or invalid address?
"
    );
}

#[test]
fn given_addresses_and_all_or_nothing_valid() {
    let k = OstepKnobs {
        addresses: Some(vec![0, 4095, 4096, 16383, 99_999]),
        percent_valid: 100,
        ..OstepKnobs::default()
    };
    let ex = generate(&k).unwrap();
    assert!(ex.page_table.iter().all(|e| e.is_some()));
    let mut frames: Vec<u64> = ex.page_table.iter().flatten().copied().collect();
    frames.sort();
    frames.dedup();
    assert_eq!(frames.len(), 4, "every valid page has its own frame");
    assert_eq!(
        ex.trace[4].paddr, None,
        "beyond the address space: no translation"
    );
    let k = OstepKnobs {
        percent_valid: 0,
        ..OstepKnobs::default()
    };
    assert!(generate(&k)
        .unwrap()
        .trace
        .iter()
        .all(|t| t.paddr.is_none()));
}

#[test]
fn knobs_are_checked_as_the_script_checks_them() {
    let bad = |k: OstepKnobs| matches!(generate(&k), Err(VmError::BadKnob(_)));
    let d = OstepKnobs::default;
    assert!(
        bad(OstepKnobs {
            phys_mem: 16 << 10,
            ..d()
        }),
        "physical memory not larger"
    );
    assert!(bad(OstepKnobs { phys_mem: 1, ..d() }));
    assert!(bad(OstepKnobs {
        address_space: 0,
        ..d()
    }));
    assert!(
        bad(OstepKnobs {
            address_space: 12 << 10,
            ..d()
        }),
        "not a power of two"
    );
    assert!(bad(OstepKnobs {
        page_size: 3000,
        ..d()
    }));
    assert!(bad(OstepKnobs {
        page_size: 0,
        ..d()
    }));
    assert!(bad(OstepKnobs {
        phys_mem: 1 << 30,
        ..d()
    }));
    assert!(bad(OstepKnobs {
        percent_valid: 101,
        ..d()
    }));
    assert!(
        bad(OstepKnobs {
            address_space: 1 << 29,
            phys_mem: (1 << 30) - 1,
            page_size: 1,
            ..d()
        }),
        "too many pages"
    );
    assert!(bad(OstepKnobs {
        count: 1 << 20,
        ..d()
    }));
    assert!(
        bad(OstepKnobs {
            page_size: 32 << 10,
            ..d()
        }),
        "space not a multiple of the page"
    );
}
