//! The simulated process driven by the real engine (`heaptale::Heap` over
//! `heaptale::source::Arena`, whose heap reports addresses from 0x10000): demand paging,
//! RSS, brk and sbrk, trimming, the mmap threshold, swap and major faults, the TLB, and the
//! narration, with counts worked out from the engine's block layout (first fit, 8-byte
//! headers, 8-byte alignment: `malloc(n)` takes a block of `n + 8` rounded up to 8, at least
//! 32 bytes, its header at the block's start and its payload 8 bytes in).
#![cfg(feature = "alloc")]

use heaptale::event::Recorder;
use heaptale::source::Arena;
use heaptale::vm::frames::{FrameOwner, FramesConfig};
use heaptale::vm::mmap::MmapConfig;
use heaptale::vm::paging::Mode;
use heaptale::vm::process::{Fault, PageState, Process, ProcessConfig, TlbResult};
use heaptale::vm::replace::ReplacePolicy;
use heaptale::vm::{BlockFormat, Cause, Driver, Note, VmError, VmaKind};
use heaptale::{Config, Event, Heap};

const START: u64 = 0x1_0000;

fn driver(pc: &ProcessConfig) -> Driver<Recorder> {
    Driver::with_observer(
        pc,
        START,
        START,
        BlockFormat::of(&Config::default()),
        Recorder::default(),
    )
    .unwrap()
}

fn heap(
    d: &mut Driver<Recorder>,
) -> Heap<Arena, heaptale::policy::AnyPolicy, &mut Driver<Recorder>> {
    Heap::observed(Arena::new(16 << 20).unwrap(), &Config::default(), d).unwrap()
}

fn faults(d: &Driver<Recorder>) -> (u64, u64) {
    let c = d.process().counters();
    (c.minor_faults, c.major_faults)
}

#[test]
fn first_touch_faults_once_and_free_unmaps_nothing() {
    let mut d = driver(&ProcessConfig::default());
    assert_eq!(d.process().rss(), 0);
    let mut h = heap(&mut d);
    // malloc(24): the heap grows from 0x10000 to 0x10020 (one 32-byte block) and the header
    // at 0x10000 is written: page 0x10's first touch.
    let p = h.malloc(24).unwrap() as u64;
    assert_eq!(p, 0x1_0008);
    let o = h.observer_mut();
    assert_eq!(
        o.process().mm().brk(),
        0x1_0020,
        "the simulated break is the engine's"
    );
    assert_eq!(
        o.process().mm().heap().map(|v| (v.start, v.end)),
        Some((0x1_0000, 0x1_1000))
    );
    assert_eq!(faults(o), (1, 0));
    assert_eq!(o.process().rss(), 1);
    // write(p, "hello"): same page, no fault; the TLB has it since the header write.
    o.write(p, 6).unwrap();
    assert_eq!(faults(o), (1, 0));
    let notes = o.take_notes();
    assert!(matches!(
        notes[0],
        Note::Break {
            old: 0x1_0000,
            new: 0x1_0020,
            unmapped: 0
        }
    ));
    let Note::Access {
        cause: Cause::Header { block: 0x1_0000 },
        write: true,
        access: ref a,
    } = notes[1]
    else {
        panic!("{notes:?}")
    };
    assert_eq!(
        (a.vpn, a.fault, a.tlb),
        (0x10, Fault::Minor, TlbResult::Miss)
    );
    assert_eq!(
        notes[1].to_string(),
        format!("writing the header at 0x10000 touched page 0x10: page fault (minor: first touch), frame {:#x} (+1 page table)", a.frame)
    );
    let Note::Access {
        cause: Cause::User {
            addr: 0x1_0008,
            len: 6,
        },
        access: ref a2,
        ..
    } = notes[2]
    else {
        panic!("{notes:?}")
    };
    assert_eq!(
        (a2.fault, a2.tlb, a2.frame),
        (Fault::None, TlbResult::Hit, a.frame)
    );
    assert_eq!(
        notes[2].to_string(),
        format!(
            "writing 6 bytes at 0x10008 touched page 0x10: TLB hit, frame {:#x}",
            a.frame
        )
    );

    // malloc(5000): a 5008-byte block at 0x10020, break 0x113b0; its header is on page 0x10.
    let q = h.malloc(5000).unwrap() as u64;
    assert_eq!(q, 0x1_0028);
    assert_eq!(faults(h.observer()), (1, 0));
    // memset(q, 0, 5000) runs to 0x113af: page 0x11's first touch.
    h.observer_mut().write(q, 5000).unwrap();
    assert_eq!(faults(h.observer()), (2, 0));
    assert_eq!(h.observer().process().rss(), 2);
    // Touching both pages again faults no more.
    h.observer_mut().write(q, 5000).unwrap();
    h.observer_mut().read(p, 24).unwrap();
    assert_eq!(faults(h.observer()), (2, 0));
    // free(q): header, links and footer are written (the footer at 0x113ac, page 0x11);
    // the break does not move, so nothing is unmapped.
    h.free(q as usize).unwrap();
    h.free(p as usize).unwrap();
    let o = h.observer();
    assert_eq!(o.process().rss(), 2);
    assert_eq!(o.process().mm().brk(), 0x1_13b0);
    assert!(o.notes().iter().any(|n| matches!(n, Note::Access { cause: Cause::Footer { block: 0x1_0020 }, access, .. } if access.addr == 0x1_13ac)));
    assert_eq!(
        o.process().page_state(0x1_1000),
        PageState::Resident {
            frame: o.process().page_table().leaf(0x1_1000).unwrap().frame(),
            accessed: true,
            dirty: true
        }
    );
    o.process().check().unwrap();
    // The engine's own events reached the inner observer too.
    assert!(o
        .inner()
        .events
        .iter()
        .any(|e| matches!(e, Event::Grow { .. })));
}

#[test]
fn contiguous_pages_land_on_scattered_frames() {
    let mut d = driver(&ProcessConfig::default());
    let mut h = heap(&mut d);
    let p = h.malloc(8 * 4096).unwrap() as u64;
    h.observer_mut().write(p, 8 * 4096).unwrap();
    let o = h.observer();
    let frames: Vec<u64> = (0..9)
        .map(|i| {
            o.process()
                .page_table()
                .leaf(0x1_0000 + i * 4096)
                .unwrap()
                .frame()
        })
        .collect();
    assert!(
        frames.windows(2).all(|w| w[0].abs_diff(w[1]) != 1),
        "scattered: {frames:x?}"
    );
    for (i, &f) in frames.iter().enumerate() {
        assert_eq!(
            o.process().phys().owner(f),
            Some(FrameOwner::Page {
                vpn: 0x10 + i as u64
            })
        );
    }
    // Others hold frames too, the kernel the lowest ones.
    let phys = o.process().phys();
    assert_eq!(phys.owner(0), Some(FrameOwner::Kernel));
    assert!(phys.count(|x| matches!(x, FrameOwner::Other { .. })) > 1000);
    // Deterministic: the same run gives the same frames.
    let mut d2 = driver(&ProcessConfig::default());
    let mut h2 = heap(&mut d2);
    let p2 = h2.malloc(8 * 4096).unwrap() as u64;
    h2.observer_mut().write(p2, 8 * 4096).unwrap();
    let again: Vec<u64> = (0..9)
        .map(|i| {
            h2.observer()
                .process()
                .page_table()
                .leaf(0x1_0000 + i * 4096)
                .unwrap()
                .frame()
        })
        .collect();
    assert_eq!(frames, again);
}

#[test]
fn a_heap_that_starts_over_trims_the_break() {
    let mut d = driver(&ProcessConfig::default());
    {
        let mut h = heap(&mut d);
        let p = h.malloc(3 * 4096).unwrap() as u64; // block 0x10000..0x13008, break 0x13008
        h.observer_mut().write(p, 3 * 4096).unwrap(); // pages 0x10..=0x13
        assert_eq!(h.observer().process().rss(), 4);
        let vsz = h.observer().process().stats().virtual_bytes;
        h.free(p as usize).unwrap();
        assert_eq!(h.observer().process().rss(), 4, "free does not unmap");
        assert_eq!(h.observer().process().stats().virtual_bytes, vsz);
    }
    // The playground starts a new heap at the same place (its break back at the start): the
    // simulated break follows the real one down, and the pages above it are unmapped.
    let h = heap(&mut d);
    let brk = h.brk() as u64;
    assert_eq!(brk, START);
    drop(h);
    let tables_before = d.process().page_table().table_count();
    d.follow_brk(brk).unwrap();
    assert_eq!(d.process().rss(), 0);
    assert!(d.process().mm().heap().is_none());
    assert_eq!(d.process().page_state(0x1_0000), PageState::Unmapped);
    assert_eq!(
        d.process().page_table().table_count(),
        tables_before - 1,
        "the emptied page table is freed"
    );
    let last = d.take_notes().pop().unwrap();
    assert_eq!(
        last.to_string(),
        "the break moved from 0x13008 to 0x10000, unmapping 4 resident pages"
    );
    d.process().check().unwrap();
    // A partial trim keeps the page that still holds the break.
    let mut h = heap(&mut d);
    let p = h.malloc(2 * 4096).unwrap() as u64;
    h.observer_mut().write(p, 2 * 4096).unwrap();
    drop(h);
    assert_eq!(d.process().rss(), 3);
    d.follow_brk(0x1_0800).unwrap();
    assert_eq!(d.process().rss(), 1);
    assert_eq!(d.process().mm().heap().unwrap().end, 0x1_1000);
    d.process().check().unwrap();
}

#[test]
fn brk_and_sbrk_semantics() {
    let mut pr = Process::new(&ProcessConfig::default(), START).unwrap();
    assert_eq!(pr.sbrk(0), Ok(START), "sbrk(0) reports the break");
    assert_eq!(pr.sbrk(100), Ok(START), "growth returns the old break");
    assert_eq!(pr.sbrk(0), Ok(START + 100));
    assert_eq!(pr.brk(START + 0x3000), Ok(START + 0x3000));
    pr.touch(START, 0x3000, true, &mut |_| {}).unwrap();
    assert_eq!(pr.rss(), 3);
    assert_eq!(
        pr.sbrk(-0x1800),
        Ok(START + 0x3000),
        "shrinking returns the old break too"
    );
    assert_eq!(
        pr.rss(),
        2,
        "the page above the new break's page is unmapped"
    );
    // Failures are ENOMEM and change nothing.
    assert!(matches!(pr.brk(START - 1), Err(VmError::NoMemory(_))));
    assert!(matches!(pr.sbrk(-0x10000), Err(VmError::NoMemory(_))));
    assert!(matches!(pr.sbrk(i64::MAX), Err(VmError::NoMemory(_))));
    // The heap cannot grow into the mmap region (at 0xb8000000 on 32-bit x86).
    assert_eq!(pr.mm().mmap_base(), 0xB800_0000);
    let m = pr.mmap(4096).unwrap();
    assert_eq!(m, 0xB7FF_F000, "top-down from mmap_base");
    assert!(matches!(pr.brk(m), Err(VmError::NoMemory(_))));
    // Linux checks [old end, new end + one page) against the other mappings: a guard page
    // must stay free between the heap and the mapping.
    assert!(
        matches!(pr.brk(m - 4095), Err(VmError::NoMemory(_))),
        "its page would end at the mapping"
    );
    assert_eq!(pr.brk(m - 4096), Ok(m - 4096));
    assert_eq!(pr.sbrk(0), Ok(m - 4096));
    // RLIMIT_DATA.
    let mut cfg = ProcessConfig::default();
    cfg.layout.data_limit = Some(64 << 10);
    let mut pr = Process::new(&cfg, START).unwrap();
    assert!(pr.sbrk(56 << 10).is_ok(), "8 KiB of data + 56 KiB of heap");
    assert!(matches!(pr.sbrk(1), Err(VmError::NoMemory(_))));
    pr.check().unwrap();
}

#[test]
fn the_layout_around_the_heap() {
    let pr = Process::new(&ProcessConfig::default(), START).unwrap();
    let kinds: Vec<_> = pr
        .mm()
        .vmas()
        .iter()
        .map(|v| (v.kind, v.start, v.end))
        .collect();
    assert_eq!(
        kinds,
        [
            (VmaKind::Code, 0x4000, 0xC000),
            (VmaKind::Data, 0xC000, 0xE000),
            (VmaKind::Bss, 0xE000, 0x1_0000),
            (VmaKind::Stack, 0xC000_0000 - (132 << 10), 0xC000_0000),
        ]
    );
    let mut pr = pr;
    // Null pointers, the kernel half and the gap above the heap are not mapped.
    for a in [0, 0x1000, 0x2000_0000, 0xC000_0000, 0xFFFF_FFFF] {
        assert!(
            matches!(pr.access(a, false), Err(VmError::SegFault { .. })),
            "{a:#x}"
        );
    }
    assert!(matches!(
        pr.access(0x1_0000_0000, false),
        Err(VmError::BadAddress { .. })
    ));
    // Code is read-only.
    assert!(pr.access(0x4000, false).is_ok());
    assert!(matches!(
        pr.access(0x4000, true),
        Err(VmError::SegFault {
            why: "write to a read-only mapping",
            ..
        })
    ));
    // The stack: its top page faults in; below it the stack grows.
    assert_eq!(pr.access(0xBFFF_FFF8, true).unwrap().fault, Fault::Minor);
    let below = 0xC000_0000 - (132 << 10) - 0x1000;
    assert!(pr.access(below, true).unwrap().stack_grew);
    assert_eq!(pr.counters().segfaults, 6);
    pr.check().unwrap();
    // Knobs that cannot be are errors, not panics.
    assert!(
        Process::new(&ProcessConfig::default(), 0x1_0008).is_err(),
        "unaligned heap start"
    );
    assert!(
        Process::new(&ProcessConfig::default(), 0x2000).is_err(),
        "no room for code below the heap"
    );
    assert!(
        Process::new(&ProcessConfig::default(), 0xC000_0000).is_err(),
        "heap above the mmap region"
    );
    let mut c = ProcessConfig::default();
    c.frames.bytes = 12345;
    assert!(Process::new(&c, START).is_err());
    c.frames.bytes = 4096;
    c.frames.kernel_percent = 100;
    assert!(
        Process::new(&c, START).is_err(),
        "no frame for the page directory"
    );
}

#[test]
fn x86_64_walks_four_levels() {
    let cfg = ProcessConfig {
        mode: Mode::X86_64,
        ..ProcessConfig::default()
    };
    let mut d = driver(&cfg);
    let mut h = heap(&mut d);
    h.malloc(24).unwrap();
    let o = h.observer_mut();
    let Note::Access { access, .. } = &o.notes()[1] else {
        panic!()
    };
    assert_eq!(access.new_tables, 3, "PDPT, page directory and page table");
    let w = o.process().walk(0x1_0008);
    let names: Vec<_> = w.steps.iter().map(|s| s.entry).collect();
    assert_eq!(names, ["PML4E", "PDPTE", "PDE", "PTE"]);
    assert_eq!(w.split.indices(), &[0, 0, 0, 0x10]);
    assert_eq!(w.result, Ok(access.frame << 12 | 8));
    assert_eq!(o.process().mm().task_size(), 0x7FFF_FFFF_F000);
    assert_eq!(o.process().mm().mmap_base(), 0x7FFF_FFFF_F000 - (128 << 20));
    o.process().check().unwrap();
}

#[test]
fn mmap_threshold_requests_go_to_the_mmap_region() {
    let cfg = ProcessConfig {
        mmap: Some(MmapConfig::default()),
        ..ProcessConfig::default()
    };
    let mut d = driver(&cfg);
    let mut h = heap(&mut d);
    // malloc(200000) on 32-bit: glibc's chunk is 200000 + 4 rounded up to 16 = 200016 bytes,
    // at or above the 128 KiB threshold; its mapping is ALIGN_UP(200016 + 15, 4096) = 49
    // pages = 0x31000 bytes, placed just below mmap_base: 0xb8000000 - 0x31000 = 0xb7fcf000.
    // The chunk header is written at 0xb7fcf008 (i386's 8-byte front correction), the
    // payload is at 0xb7fcf010.
    let p = h.malloc(200_000).unwrap() as u64;
    assert_eq!(p, 0x1_0008, "the real block is in the heap");
    let o = h.observer_mut();
    let c = *o.chunks().next().unwrap();
    assert_eq!(
        (c.map_start, c.map_len, c.map_payload),
        (0xB7FC_F000, 0x31000, 0xB7FC_F010)
    );
    assert_eq!(
        o.process().mm().find(0xB7FC_F000).unwrap().kind,
        VmaKind::Mmap
    );
    assert_eq!(o.sim_addr(p + 100), 0xB7FC_F010 + 100);
    let s = o.process().stats();
    assert_eq!(
        (s.rss, s.rss_mmap, s.rss_heap),
        (1, 1, 0),
        "only the chunk header's page"
    );
    assert!(o.notes().iter().any(|n| n.to_string().starts_with(
        "200000 bytes is at or above the mmap threshold (131072 bytes): glibc would mmap 200704 bytes at 0xb7fcf000"
    )));
    // memset(p, 0, 200000): 0xb7fcf010 ..= 0xb7fffd4f, all 49 pages of the mapping.
    o.write(p, 200_000).unwrap();
    assert_eq!(o.process().stats().rss_mmap, 49);
    assert_eq!(faults(o), (49, 0));
    // free(p) unmaps it at once, and the dynamic threshold rises to the chunk's size
    // (the mapping less the correction: 200704 - 8 = 200696).
    h.free(p as usize).unwrap();
    let o = h.observer_mut();
    assert_eq!(o.process().rss(), 0);
    assert!(o.process().mm().find(0xB7FC_F000).is_none());
    assert_eq!(o.process().mmap_threshold().unwrap().threshold(), 200_696);
    assert_eq!(
        o.process().mmap_threshold().unwrap().trim_threshold(),
        401_392
    );
    assert!(o.take_notes().iter().any(|n| n.to_string()
        == "free: glibc would munmap the 200704 bytes at 0xb7fcf000, freeing 49 resident pages; the mmap threshold rises to 200696 bytes"));
    // Now 150000 bytes stays in the heap: below the raised threshold. The engine splits the
    // free 200008-byte block at 0x10000: the header at 0x10000 (page 0x10), the remainder's
    // header at 0x10000 + 150008 = 0x349f8 (page 0x34) and its footer just below the break,
    // at 0x40d44 (page 0x40).
    let q = h.malloc(150_000).unwrap() as u64;
    let o = h.observer_mut();
    assert_eq!(o.chunks().count(), 0);
    o.write(q, 16).unwrap();
    assert_eq!(o.process().stats().rss_heap, 3);
    for a in [0x1_0000, 0x3_4000, 0x4_0000] {
        assert!(
            matches!(o.process().page_state(a), PageState::Resident { .. }),
            "{a:#x}"
        );
    }
    o.process().check().unwrap();
}

#[test]
fn mmapped_chunks_follow_realloc() {
    let cfg = ProcessConfig {
        mmap: Some(MmapConfig {
            threshold: 64 << 10,
            dynamic: false,
        }),
        ..ProcessConfig::default()
    };
    let mut d = driver(&cfg);
    let mut h = heap(&mut d);
    let a = h.malloc(100_000).unwrap();
    h.observer_mut().write(a as u64, 100_000).unwrap();
    let b = h.malloc(16).unwrap(); // keeps `a` from growing in place at the top
                                   // Growing `a` moves it: the engine mallocs anew (a new chunk), copies (reading the old
                                   // chunk, writing the new) and frees the old block (unmapping its chunk).
    let a2 = h.realloc(a, 300_000).unwrap();
    assert_ne!(a, a2);
    let o = h.observer_mut();
    let chunks: Vec<_> = o.chunks().copied().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].request, 300_000);
    let copied = o
        .notes()
        .iter()
        .filter(|n| {
            matches!(
                n,
                Note::Access {
                    cause: Cause::CopyTo { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        copied, 25,
        "100000 bytes copied into 25 pages of the new mapping (payload at offset 16)"
    );
    assert_eq!(
        o.process().mmap_threshold().unwrap().threshold(),
        64 << 10,
        "not dynamic"
    );
    // Shrinking in place: glibc would mremap the chunk down.
    let a3 = h.realloc(a2, 70_000).unwrap();
    assert_eq!(a3, a2);
    let o = h.observer_mut();
    // The block holds 70000 bytes: chunk 70016, mapping ALIGN_UP(70016 + 15, 4096) = 18 pages.
    assert_eq!(o.chunks().next().unwrap().map_len, 0x12000);
    assert!(o.notes().iter().any(|n| matches!(n, Note::Mremap { .. })));
    o.process().check().unwrap();
    h.free(b).unwrap();
    h.free(a3).unwrap();
    assert_eq!(h.observer().chunks().count(), 0);
    assert_eq!(h.observer().process().stats().rss_mmap, 0);
    h.observer().process().check().unwrap();
}

#[test]
fn mremap_moves_pages_with_their_frames() {
    let mut pr = Process::new(&ProcessConfig::default(), START).unwrap();
    let a = pr.mmap(2 * 4096).unwrap();
    let _fence = pr.mmap(4096).unwrap(); // right below it: `a` cannot grow down, and above is mmap_base
    pr.touch(a, 2 * 4096, true, &mut |_| {}).unwrap();
    let f0 = pr.page_table().leaf(a).unwrap().frame();
    let b = pr.mremap(a, 2 * 4096, 4 * 4096).unwrap();
    assert_ne!(a, b, "no room above the mapping: it moved");
    assert_eq!(
        pr.page_table().leaf(b).unwrap().frame(),
        f0,
        "the page kept its frame"
    );
    assert_eq!(pr.phys().owner(f0), Some(FrameOwner::Page { vpn: b >> 12 }));
    assert_eq!(
        pr.page_state(a),
        PageState::Unmapped,
        "the old range is no mapping any more"
    );
    assert_eq!(pr.rss(), 2);
    pr.check().unwrap();
    assert_eq!(pr.munmap(b, 4 * 4096), Ok(2));
    assert!(matches!(pr.munmap(b + 1, 4096), Err(VmError::Invalid(_))));
    assert!(
        matches!(pr.munmap(0x4000, 4096), Err(VmError::Invalid(_))),
        "not the code"
    );
    assert_eq!(
        pr.munmap(0x2000_0000, 4096),
        Ok(0),
        "nothing mapped there: fine, as in Linux"
    );
    pr.check().unwrap();
}

/// Six frames, no kernel, no other process: the page directory and the heap's page table take
/// two, leaving four for pages. FIFO.
fn tiny(swap_pages: u64, policy: ReplacePolicy) -> Process {
    let cfg = ProcessConfig {
        frames: FramesConfig {
            bytes: 6 * 4096,
            kernel_percent: 0,
            others_percent: 0,
            others: 0,
            seed: 1,
        },
        swap_bytes: swap_pages * 4096,
        policy,
        ..ProcessConfig::default()
    };
    let mut pr = Process::new(&cfg, START).unwrap();
    pr.brk(START + 16 * 4096).unwrap();
    pr
}

#[test]
fn swapping_and_major_faults() {
    let mut pr = tiny(8, ReplacePolicy::Fifo);
    let page = |i: u64| START + i * 4096;
    // W0 W1 W2 W3: four minor faults, memory full.
    for i in 0..4 {
        assert_eq!(pr.access(page(i), true).unwrap().fault, Fault::Minor);
    }
    assert_eq!(pr.phys().free_frames(), 0);
    // W4: evicts page 0 (first in), written to slot 0.
    let a = pr.access(page(4), true).unwrap();
    assert_eq!(a.fault, Fault::Minor);
    assert_eq!(
        (
            a.evictions[0].vpn,
            a.evictions[0].slot,
            a.evictions[0].written
        ),
        (0x10, 0, true)
    );
    assert_eq!(pr.page_state(page(0)), PageState::Swapped { slot: 0 });
    assert!(pr
        .walk(page(0))
        .result
        .unwrap_err()
        .to_string()
        .ends_with("(the page is in swap slot 0)"));
    // R0: a major fault reads slot 0 back; page 1 goes to slot 1.
    let a = pr.access(page(0), false).unwrap();
    assert_eq!(a.fault, Fault::Major { slot: 0 });
    assert_eq!(a.evictions[0].vpn, 0x11);
    // W5 W6 W7 evict 2, 3, 4 (each written).
    for i in 5..8 {
        assert_eq!(
            pr.access(page(i), true).unwrap().evictions[0].vpn,
            0x10 + i - 3
        );
    }
    // W8 evicts page 0 again: clean since it came back, its copy in slot 0 still current:
    // no write.
    let a = pr.access(page(8), true).unwrap();
    let e = a.evictions[0];
    assert_eq!((e.vpn, e.slot, e.written), (0x10, 0, false));
    let c = pr.counters();
    assert_eq!(
        (
            c.minor_faults,
            c.major_faults,
            c.evictions,
            c.swap_outs,
            c.swap_ins
        ),
        (9, 1, 6, 5, 1)
    );
    let s = pr.stats();
    assert_eq!((s.rss, s.swapped, s.swap_used), (4, 5, 5));
    pr.check().unwrap();
    // Trimming frees swap slots too.
    pr.brk(START).unwrap();
    let s = pr.stats();
    assert_eq!((s.rss, s.swapped, s.swap_used, s.free_frames), (0, 0, 0, 5));
    pr.check().unwrap();
}

#[test]
fn out_of_memory_is_an_error_and_leaves_things_consistent() {
    // No swap: anonymous pages cannot be evicted.
    let mut pr = tiny(0, ReplacePolicy::Lru);
    for i in 0..4 {
        pr.access(START + i * 4096, true).unwrap();
    }
    assert_eq!(pr.access(START + 4 * 4096, true), Err(VmError::OutOfFrames));
    assert_eq!(pr.rss(), 4);
    pr.check().unwrap();
    // With one swap slot, one eviction works, the second does not.
    let mut pr = tiny(1, ReplacePolicy::Lru);
    for i in 0..5 {
        pr.access(START + i * 4096, true).unwrap();
    }
    assert_eq!(pr.access(START + 5 * 4096, true), Err(VmError::OutOfFrames));
    pr.check().unwrap();
}

#[test]
fn opt_with_the_future_of_a_previous_run() {
    let stream: Vec<u64> = [0u64, 1, 2, 3, 0, 1, 4, 0, 1, 2, 3, 4]
        .iter()
        .map(|i| START + i * 4096)
        .collect();
    let run = |policy, future: Option<Vec<u64>>| {
        let mut pr = tiny(16, policy);
        if let Some(f) = future {
            pr.set_future(f);
        }
        for &a in &stream {
            pr.access(a, false).unwrap();
        }
        pr.check().unwrap();
        pr.counters().major_faults
    };
    let mut first = tiny(16, ReplacePolicy::Lru);
    let mut cfg = *first.config();
    cfg.record_stream = true;
    first = Process::new(&cfg, START).unwrap();
    first.brk(START + 16 * 4096).unwrap();
    for &a in &stream {
        first.access(a, false).unwrap();
    }
    let future = first.page_stream().to_vec();
    assert_eq!(future.len(), stream.len());
    let opt = run(ReplacePolicy::Opt, Some(future));
    for p in [
        ReplacePolicy::Fifo,
        ReplacePolicy::Lru,
        ReplacePolicy::Clock,
        ReplacePolicy::Random,
    ] {
        assert!(opt <= run(p, None), "{p}");
    }
}

#[test]
fn tlb_counts_through_the_engine() {
    let cfg = ProcessConfig {
        tlb: Some(heaptale::vm::TlbConfig {
            entries: 2,
            ways: 2,
        }),
        ..ProcessConfig::default()
    };
    let mut d = driver(&cfg);
    let mut pr_counts = vec![];
    {
        let mut h = heap(&mut d);
        let p = h.malloc(3 * 4096).unwrap() as u64; // header on page 0x10: miss (fault)
        let o = h.observer_mut();
        o.write(p, 1).unwrap(); // page 0x10: hit
        o.write(p + 4096, 1).unwrap(); // page 0x11: miss
        o.write(p + 8192, 1).unwrap(); // page 0x12: miss, evicts 0x10 (LRU)
        o.write(p, 1).unwrap(); // page 0x10: miss
        o.write(p + 8192, 1).unwrap(); // page 0x12: hit
        let c = o.process().counters();
        pr_counts.push((c.tlb_hits, c.tlb_misses));
    }
    assert_eq!(pr_counts, [(2, 4)]);
    // Without a TLB every access walks.
    let cfg = ProcessConfig {
        tlb: None,
        ..ProcessConfig::default()
    };
    let mut d = driver(&cfg);
    let mut h = heap(&mut d);
    h.malloc(24).unwrap();
    let Note::Access { access, .. } = &h.observer().notes()[1] else {
        panic!()
    };
    assert_eq!(access.tlb, TlbResult::Off);
}

#[test]
fn events_fed_by_hand_and_errors_as_notes() {
    // The playground may record events and apply them later, one by one.
    let mut d = Driver::new(
        &ProcessConfig::default(),
        START,
        START,
        BlockFormat::default(),
    )
    .unwrap();
    d.apply(&Event::Grow {
        old_brk: 0,
        new_brk: 64,
        pages: 1,
    });
    d.apply(&Event::Alloc {
        block: 0,
        size: 32,
        request: 24,
        probes: 0,
    });
    d.apply(&Event::Split {
        block: 32,
        size: 32,
        rest: 64,
        rest_size: 0,
    });
    assert_eq!(d.process().rss(), 1);
    // A write past the heap's mapping is a segfault, noted and returned.
    assert!(matches!(
        d.write(0x1_1000, 4),
        Err(VmError::SegFault { .. })
    ));
    let last = d.notes().last().unwrap().to_string();
    assert_eq!(
        last,
        "segmentation fault at 0x11000: no mapping holds this address"
    );
    // A break the process cannot follow (into the mmap region) is noted, not fatal.
    d.apply(&Event::Grow {
        old_brk: 64,
        new_brk: 0xFFFF_0000,
        pages: 0,
    });
    assert!(matches!(
        d.notes().last(),
        Some(Note::Error {
            error: VmError::NoMemory(_),
            ..
        })
    ));
    assert_eq!(d.process().mm().brk(), START + 64);
    d.process().check().unwrap();
}

#[test]
fn huge_ranges_cost_what_they_hold() {
    let cfg = ProcessConfig {
        mode: Mode::X86_64,
        ..ProcessConfig::default()
    };
    let mut pr = Process::new(&cfg, START).unwrap();
    // A 64 TiB heap with one page touched; trimming it visits that page, not 2^34 of them.
    pr.brk(1 << 46).unwrap();
    pr.access((1 << 46) - 8, true).unwrap();
    pr.brk(START).unwrap();
    assert_eq!(pr.rss(), 0);
    // A 1 TiB mapping, grown to 2 TiB: no room above it, so it moves, below itself.
    let m = pr.mmap(1 << 40).unwrap();
    pr.touch(m + 4096, 8192, true, &mut |_| {}).unwrap();
    let m2 = pr.mremap(m, 1 << 40, 1 << 41).unwrap();
    assert!(
        m2 + (1 << 41) <= m,
        "the new place does not overlap the old"
    );
    assert!(matches!(
        pr.page_state(m2 + 4096),
        PageState::Resident { .. }
    ));
    assert!(matches!(
        pr.page_state(m2 + 8192),
        PageState::Resident { .. }
    ));
    assert_eq!(pr.rss(), 2);
    pr.check().unwrap();
    assert_eq!(pr.munmap(m2, 1 << 41), Ok(2));
    assert!(matches!(pr.mmap(1 << 47), Err(VmError::NoMemory(_))));
    assert!(matches!(pr.mmap(u64::MAX), Err(VmError::NoMemory(_))));
    assert!(pr.touch(START, u64::MAX, true, &mut |_| {}).is_err());
    pr.check().unwrap();
}
