//! Page tables worked out by hand from the x86 bit layouts, in both paging modes: the fields
//! of an address, the entry read at each level and its physical address, the translation,
//! the A and D bits the walk sets, and faults named by the level that stopped the walk.
#![cfg(feature = "alloc")]

use heaptale::vm::paging::{Access, FaultKind, Mode, PageTable, Pte};
use heaptale::vm::VmError;

const P: u64 = Pte::PRESENT;
const W: u64 = Pte::WRITABLE;
const U: u64 = Pte::USER;

/// 32-bit x86, 10/10/12. 0x0804_A123 in binary is
/// `0000100000 | 0001001010 | 000100100011`: directory index 0x20, table index 0x4a, offset
/// 0x123. CR3 -> page directory in frame 0x100; PDE 0x20 -> page table in frame 0x200;
/// PTE 0x4a -> frame 0x2a3.
fn x86_tables() -> PageTable {
    let mut pt = PageTable::new(Mode::X86, 0x100).unwrap();
    pt.add_table(0x200, 1).unwrap();
    pt.set_entry(0x100, 0x20, Pte::new(0x200, P | W | U))
        .unwrap();
    pt.set_entry(0x200, 0x4a, Pte::new(0x2a3, P | W | U))
        .unwrap();
    pt.set_entry(0x200, 0x4c, Pte::new(0x2a4, P | U)).unwrap(); // read-only
    pt.set_entry(0x200, 0x4d, Pte::new(0x2a5, P | W)).unwrap(); // supervisor only
    pt.set_entry(0x200, 0x4e, Pte::swap(9)).unwrap(); // swapped out to slot 9
    pt
}

#[test]
fn x86_address_fields() {
    let s = Mode::X86.split(0x0804_A123).unwrap();
    assert_eq!((s.indices(), s.offset), (&[0x20, 0x4a][..], 0x123));
    let s = Mode::X86.split(0xFFFF_FFFF).unwrap();
    assert_eq!((s.indices(), s.offset), (&[0x3ff, 0x3ff][..], 0xfff));
    let s = Mode::X86.split(0x0001_1008).unwrap(); // the heap's second page: page 0x11
    assert_eq!((s.indices(), s.offset), (&[0x0, 0x11][..], 0x008));
    assert!(matches!(
        Mode::X86.split(0x1_0000_0000),
        Err(VmError::BadAddress { .. })
    ));
    assert_eq!(Mode::X86.join(&[0x20, 0x4a]), 0x0804_A000);
}

#[test]
fn x86_walk_level_by_level() {
    let pt = x86_tables();
    let w = pt.walk(0x0804_A123);
    assert_eq!(w.root, 0x100);
    assert_eq!(w.steps.len(), 2);
    let (d, t) = (w.steps[0], w.steps[1]);
    assert_eq!(
        (d.entry, d.table_name, d.table, d.index),
        ("PDE", "page directory", 0x100, 0x20)
    );
    // The PDE is entry 0x20 of the directory: 4-byte entries, at 0x100000 + 0x20 * 4.
    assert_eq!(d.entry_addr, 0x10_0080);
    assert_eq!(d.pte.raw(), 0x0020_0007); // frame 0x200, P W U
    assert_eq!(
        (t.entry, t.table_name, t.table, t.index),
        ("PTE", "page table", 0x200, 0x4a)
    );
    assert_eq!(t.entry_addr, 0x20_0128); // 0x200000 + 0x4a * 4
    assert_eq!(t.pte.raw(), 0x002a_3007);
    assert_eq!(t.pte.to_string(), "frame 0x2a3 P W U");
    assert_eq!(w.result, Ok(0x2a_3123)); // frame 0x2a3, offset 0x123
}

#[test]
fn x86_faults_name_the_level() {
    let pt = x86_tables();
    // 0x0c00_0000: directory index 0x30, whose PDE is not present.
    let f = pt.walk(0x0C00_0000).result.unwrap_err();
    assert_eq!(
        (f.level, f.entry, f.index, f.kind),
        (0, "PDE", 0x30, FaultKind::NotPresent)
    );
    assert_eq!(
        f.to_string(),
        "page fault at 0xc000000: PDE 0x30 is not present"
    );
    // 0x0804_B000: the PDE is there, PTE 0x4b is not.
    let w = pt.walk(0x0804_B000);
    let f = w.result.unwrap_err();
    assert_eq!(
        (f.level, f.entry, f.index, f.kind),
        (1, "PTE", 0x4b, FaultKind::NotPresent)
    );
    assert_eq!(w.steps.len(), 2, "the walk shows both entries it read");
    assert_eq!(
        f.to_string(),
        "page fault at 0x804b000: PTE 0x4b is not present"
    );
    // A swap entry in a non-present PTE.
    let f = pt.walk(0x0804_E000).result.unwrap_err();
    assert_eq!((f.entry, f.kind), ("PTE", FaultKind::Swapped { slot: 9 }));
    // Permissions, checked on an access (not on a plain walk).
    assert!(pt.walk(0x0804_C000).result.is_ok());
    let f = pt
        .walk_for(0x0804_C010, Access::USER_WRITE)
        .result
        .unwrap_err();
    assert_eq!((f.entry, f.kind), ("PTE", FaultKind::WriteProtected));
    assert!(pt.walk_for(0x0804_C010, Access::USER_READ).result.is_ok());
    let f = pt
        .walk_for(0x0804_D000, Access::USER_READ)
        .result
        .unwrap_err();
    assert_eq!((f.entry, f.kind), ("PTE", FaultKind::SupervisorOnly));
    assert!(pt
        .walk_for(
            0x0804_D000,
            Access {
                write: true,
                user: false
            }
        )
        .result
        .is_ok());
    // Beyond 32 bits.
    let f = pt.walk(0x1_0000_0000).result.unwrap_err();
    assert_eq!(f.kind, FaultKind::BadAddress);
}

#[test]
fn x86_access_sets_accessed_and_dirty() {
    let mut pt = x86_tables();
    assert_eq!(pt.access(0x0804_A123, Access::USER_READ), Ok(0x2a_3123));
    assert_eq!(
        pt.entry(0x100, 0x20).raw(),
        0x0020_0027,
        "A (bit 5) set in the PDE"
    );
    assert_eq!(
        pt.entry(0x200, 0x4a).raw(),
        0x002a_3027,
        "A set, D not: a read"
    );
    pt.access(0x0804_A456, Access::USER_WRITE).unwrap();
    assert_eq!(
        pt.entry(0x200, 0x4a).raw(),
        0x002a_3067,
        "D (bit 6) set by the write"
    );
    assert!(pt.entry(0x200, 0x4a).dirty() && pt.leaf(0x0804_A000).unwrap().accessed());
    // A faulting access changes nothing.
    assert!(pt.access(0x0804_C000, Access::USER_WRITE).is_err());
    assert!(!pt.entry(0x200, 0x4c).accessed());
}

/// x86-64, 9/9/9/9/12. 0x7f12_1a25_689a is
/// `011111110 | 001001000 | 011010001 | 001010110 | 100010011010`:
/// PML4 index 0xfe, PDPT index 0x48, PD index 0xd1, PT index 0x56, offset 0x89a.
#[test]
fn x86_64_walk_level_by_level() {
    let a = 0x7f12_1a25_689a;
    let s = Mode::X86_64.split(a).unwrap();
    assert_eq!(
        (s.indices(), s.offset),
        (&[0xfe, 0x48, 0xd1, 0x56][..], 0x89a)
    );
    let mut pt = PageTable::new(Mode::X86_64, 0x1000).unwrap();
    pt.add_table(0x1001, 1).unwrap();
    pt.add_table(0x1002, 2).unwrap();
    pt.add_table(0x1003, 3).unwrap();
    pt.set_entry(0x1000, 0xfe, Pte::new(0x1001, P | W | U))
        .unwrap();
    pt.set_entry(0x1001, 0x48, Pte::new(0x1002, P | W | U))
        .unwrap();
    pt.set_entry(0x1002, 0xd1, Pte::new(0x1003, P | W | U))
        .unwrap();
    pt.set_entry(0x1003, 0x56, Pte::new(0xabcde, P | W | U))
        .unwrap();
    let w = pt.walk(a);
    let names: Vec<_> = w.steps.iter().map(|s| s.entry).collect();
    assert_eq!(names, ["PML4E", "PDPTE", "PDE", "PTE"]);
    let addrs: Vec<_> = w.steps.iter().map(|s| s.entry_addr).collect();
    // 8-byte entries: table frame << 12 | index * 8.
    assert_eq!(addrs, [0x100_07f0, 0x100_1240, 0x100_2688, 0x100_32b0]);
    assert_eq!(w.result, Ok(0xabcd_e89a));
    // Faults at each level.
    let f = pt.walk(0x0000_0000_0040_0000).result.unwrap_err(); // PML4 index 0
    assert_eq!((f.entry, f.index), ("PML4E", 0));
    let f = pt.walk(0x7f00_0000_0000).result.unwrap_err(); // PML4 0xfe, PDPT 0
    assert_eq!((f.entry, f.index), ("PDPTE", 0));
    let f = pt.walk(0x7f12_0000_0000).result.unwrap_err(); // PDPT 0x48, PD 0
    assert_eq!((f.entry, f.index), ("PDE", 0));
    let f = pt.walk(0x7f12_1a20_0000).result.unwrap_err(); // PD 0xd1, PT 0
    assert_eq!((f.entry, f.index, f.level), ("PTE", 0, 3));
    // Canonical form: bits 63..48 copy bit 47.
    assert!(Mode::X86_64.check(0xffff_8000_0000_0000).is_ok());
    assert_eq!(
        Mode::X86_64.split(0xffff_8000_0000_0000).unwrap().indices(),
        &[0x100, 0, 0, 0]
    );
    assert!(matches!(
        Mode::X86_64.check(0x0000_8000_0000_0000),
        Err(VmError::BadAddress { .. })
    ));
    assert_eq!(
        pt.walk(0x0000_8000_0000_0000).result.unwrap_err().kind,
        FaultKind::BadAddress
    );
    assert_eq!(Mode::X86_64.join(&[0x100, 0, 0, 0]), 0xffff_8000_0000_0000);
}

#[test]
fn map_creates_tables_and_unmap_frees_them() {
    for mode in Mode::ALL {
        let mut pt = PageTable::new(mode, 1).unwrap();
        let a = 0x0804_A000;
        assert_eq!(pt.missing_tables(a), mode.levels() - 1);
        let mut frames = 10..;
        pt.map(a, Pte::new(0x55, P | W | U), &mut frames).unwrap();
        assert_eq!(pt.table_count(), mode.levels());
        assert_eq!(pt.walk(a + 5).result, Ok(0x55005));
        // A neighbour shares every table.
        assert_eq!(pt.missing_tables(a + 0x1000), 0);
        pt.map(a + 0x1000, Pte::new(0x56, P | W | U), &mut frames)
            .unwrap();
        let mut leaves = vec![];
        pt.for_each_leaf(&mut |va, e| leaves.push((va, e.frame())));
        assert_eq!(leaves, [(a, 0x55), (a + 0x1000, 0x56)]);
        let mut freed = vec![];
        assert_eq!(pt.unmap(a, &mut freed).frame(), 0x55);
        assert!(freed.is_empty(), "the table still maps the neighbour");
        pt.unmap(a + 0x1000, &mut freed);
        assert_eq!(
            freed.len(),
            mode.levels() - 1,
            "every table but the root freed"
        );
        assert_eq!(pt.table_count(), 1);
        assert_eq!(
            pt.walk(a).result.unwrap_err().level,
            0,
            "the top entry is cleared too"
        );
    }
}

#[test]
fn bad_table_edits_are_errors() {
    let mut pt = PageTable::new(Mode::X86, 1).unwrap();
    assert!(
        pt.set_entry(1, 1024, Pte::new(2, P)).is_err(),
        "x86 tables have 1024 entries"
    );
    assert!(
        pt.set_entry(7, 0, Pte::new(2, P)).is_err(),
        "no table in frame 7"
    );
    assert!(pt.set_entry(1, 0, Pte(1 << 40)).is_err(), "a 32-bit entry");
    assert!(pt.add_table(1, 1).is_err(), "frame 1 is the root");
    assert!(pt.add_table(2, 2).is_err(), "x86 has two levels");
    assert!(PageTable::new(Mode::X86, 1 << 20).is_err(), "beyond 4 GiB");
    // A PDE pointing at a frame that holds no table reads as a zeroed table.
    pt.set_entry(1, 3, Pte::new(99, P | W | U)).unwrap();
    let f = pt.walk(0x00C0_0000).result.unwrap_err();
    assert_eq!((f.entry, f.kind), ("PTE", FaultKind::NotPresent));
    assert_eq!("x86-64".parse::<Mode>(), Ok(Mode::X86_64));
    assert!("arm".parse::<Mode>().is_err());
}

#[test]
fn leaves_in_a_range() {
    for mode in Mode::ALL {
        let mut pt = PageTable::new(mode, 1).unwrap();
        let mut frames = 10..;
        let pages = [0x1000u64, 0x0040_0000, 0x0804_A000, 0xBFFF_F000];
        for (k, &a) in pages.iter().enumerate() {
            pt.map(a, Pte::new(0x100 + k as u64, P | W | U), &mut frames)
                .unwrap();
        }
        let leaves = |s, e| {
            let mut v = vec![];
            pt.for_each_leaf_in(s, e, &mut |va, _| v.push(va));
            v
        };
        assert_eq!(leaves(0, u64::MAX), pages);
        // Pages that meet the range, even in part.
        assert_eq!(
            leaves(0x1001, 0x0804_A001),
            [0x1000, 0x0040_0000, 0x0804_A000]
        );
        assert_eq!(leaves(0x2000, 0x0040_0000), Vec::<u64>::new());
        assert_eq!(leaves(0xBFFF_FFFF, 0xC000_0000), [0xBFFF_F000]);
        assert_eq!(leaves(5, 5), Vec::<u64>::new());
    }
    // The upper half of x86-64 sorts above the lower half.
    let mut pt = PageTable::new(Mode::X86_64, 1).unwrap();
    let mut frames = 10..;
    pt.map(0xffff_8000_0000_1000, Pte::new(7, P | W), &mut frames)
        .unwrap();
    pt.map(0x7fff_ffff_f000, Pte::new(8, P | W | U), &mut frames)
        .unwrap();
    let mut v = vec![];
    pt.for_each_leaf_in(0x7fff_0000_0000, 0xffff_8000_0000_2000, &mut |va, _| {
        v.push(va)
    });
    assert_eq!(v, [0x7fff_ffff_f000, 0xffff_8000_0000_1000]);
    v.clear();
    pt.for_each_leaf_in(0, 0x7fff_ffff_f000, &mut |va, _| v.push(va));
    assert!(v.is_empty());
}
