//! Property tests: random streams of engine events, heap operations, memory touches and
//! address-space calls, under random knobs, never panic and keep every invariant of the
//! simulated process (`Process::check`: RSS within physical memory, every resident page on
//! exactly one frame of its own, no frame mapped twice, swap, tables, TLB and VMAs agreeing).
#![cfg(feature = "alloc")]

use heaptale::source::Arena;
use heaptale::vm::frames::FramesConfig;
use heaptale::vm::mmap::MmapConfig;
use heaptale::vm::paging::Mode;
use heaptale::vm::process::{Process, ProcessConfig};
use heaptale::vm::replace::ReplacePolicy;
use heaptale::vm::tlb::TlbConfig;
use heaptale::vm::{BlockFormat, Driver};
use heaptale::{Config, Event, Heap, PolicyKind};
use proptest::prelude::*;

const START: u64 = 0x1_0000;

fn knobs() -> impl Strategy<Value = ProcessConfig> {
    (
        prop_oneof![Just(Mode::X86), Just(Mode::X86_64)],
        3u64..64,  // frames
        0u8..40,   // kernel %
        0u8..40,   // others %
        0u64..32,  // swap pages
        0usize..5, // policy
        prop_oneof![
            Just(None),
            (1u32..9, 0u32..3).prop_map(|(e, w)| Some(TlbConfig {
                entries: e * 2,
                ways: [0, 1, 2][w as usize]
            }))
        ],
        prop_oneof![
            Just(None),
            (0u64..300_000, any::<bool>()).prop_map(|(t, d)| Some(MmapConfig {
                threshold: t,
                dynamic: d
            }))
        ],
        any::<u64>(),
    )
        .prop_map(
            |(mode, frames, k, o, swap, pol, tlb, mmap, seed)| ProcessConfig {
                mode,
                frames: FramesConfig {
                    bytes: frames * 4096,
                    kernel_percent: k,
                    others_percent: o,
                    others: 3,
                    seed,
                },
                swap_bytes: swap * 4096,
                policy: ReplacePolicy::ALL[pol],
                seed,
                tlb,
                mmap,
                ..ProcessConfig::default()
            },
        )
}

fn small() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..0x4000, 1 => 0u32..0x10_0000, 1 => any::<u32>()]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (small(), small(), small()).prop_map(|(block, size, request)| Event::Alloc {
            block,
            size,
            request,
            probes: 0
        }),
        (small(), small()).prop_map(|(block, size)| Event::Free { block, size }),
        (small(), small(), small(), small()).prop_map(|(block, size, rest, rest_size)| {
            Event::Split {
                block,
                size,
                rest,
                rest_size,
            }
        }),
        (small(), small(), small()).prop_map(|(block, absorbed, size)| Event::Coalesce {
            block,
            absorbed,
            size
        }),
        (small(), small()).prop_map(|(old_brk, new_brk)| Event::Grow {
            old_brk,
            new_brk,
            pages: 0
        }),
        (small(), small(), small(), any::<bool>()).prop_map(|(old, new, size, in_place)| {
            Event::Realloc {
                old,
                new,
                size,
                in_place,
            }
        }),
    ]
}

#[derive(Clone, Debug)]
enum Raw {
    Event(Event),
    Touch(u64, u64, bool),
    Brk(u64),
    Sbrk(i64),
    Mmap(u64),
    Munmap(u64, u64),
    Mremap(u8, u64),
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => (0u64..0x20_0000).prop_map(|x| START + x),
        1 => (0u64..0x10_0000).prop_map(|x| 0xB800_0000 - x),
        1 => any::<u64>(),
        1 => any::<u32>().prop_map(|x| x as u64),
    ]
}

fn raw() -> impl Strategy<Value = Raw> {
    prop_oneof![
        4 => event().prop_map(Raw::Event),
        3 => (addr(), prop_oneof![4 => 0u64..0x6000, 1 => any::<u64>()], any::<bool>()).prop_map(|(a, l, w)| Raw::Touch(a, l, w)),
        1 => addr().prop_map(Raw::Brk),
        1 => prop_oneof![-0x10000i64..0x10000, any::<i64>()].prop_map(Raw::Sbrk),
        1 => prop_oneof![0u64..0x20000, any::<u64>()].prop_map(Raw::Mmap),
        1 => (addr(), prop_oneof![0u64..0x20000, any::<u64>()]).prop_map(|(a, l)| Raw::Munmap(a, l)),
        1 => (any::<u8>(), prop_oneof![0u64..0x20000, any::<u64>()]).prop_map(|(i, l)| Raw::Mremap(i, l)),
    ]
}

fn invariants(p: &Process) -> Result<(), TestCaseError> {
    p.check().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let s = p.stats();
    prop_assert!(s.rss <= s.frames);
    prop_assert!(s.rss + s.page_tables + s.free_frames <= s.frames);
    prop_assert_eq!(s.rss, p.replacer().len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Arbitrary events (nonsense included), touches anywhere, and raw address-space calls.
    #[test]
    fn raw_streams_keep_invariants(cfg in knobs(), ops in prop::collection::vec(raw(), 0..60)) {
        let Ok(mut d) = Driver::new(&cfg, START, START, BlockFormat { header: 8, footers: true }) else {
            return Ok(()); // knobs the simulation refuses (e.g. no frame for the page directory)
        };
        for op in ops {
            match op {
                Raw::Event(e) => d.apply(&e),
                Raw::Touch(a, l, w) => {
                    let _ = if w { d.write(a, l) } else { d.read(a, l) };
                }
                Raw::Brk(b) => {
                    let _ = d.follow_brk(b);
                }
                Raw::Sbrk(i) => {
                    let _ = d.process_mut().sbrk(i);
                }
                Raw::Mmap(l) => {
                    let _ = d.process_mut().mmap(l);
                }
                Raw::Munmap(a, l) => {
                    let _ = d.process_mut().munmap(a, l);
                }
                Raw::Mremap(i, l) => {
                    let maps: Vec<_> = d.process().mm().vmas().iter().filter(|v| v.kind == heaptale::vm::VmaKind::Mmap).copied().collect();
                    if let Some(v) = maps.get(i as usize % maps.len().max(1)) {
                        let _ = d.process_mut().mremap(v.start, v.len(), l);
                    }
                }
            }
            invariants(d.process())?;
            for n in d.take_notes() {
                let _ = n.to_string();
            }
            for a in [START, START + 0x1_0000, 0xB7FF_F000, u64::MAX] {
                let w = d.process().walk(a);
                if let Err(f) = w.result {
                    let _ = f.to_string();
                }
            }
        }
    }

    /// Real heap operations through the engine, with the user's writes, and restarts.
    #[test]
    fn engine_driven_streams_keep_invariants(
        cfg in knobs(),
        policy in 0usize..7,
        ops in prop::collection::vec((0u8..6, 0usize..8, prop_oneof![4 => 0usize..5000, 1 => 0usize..300_000]), 0..50),
    ) {
        let hc = Config { policy: PolicyKind::ALL[policy], ..Config::default() };
        let Ok(mut d) = Driver::new(&cfg, START, START, BlockFormat::of(&hc)) else { return Ok(()) };
        let mut h = Heap::observed(Arena::new(4 << 20).unwrap(), &hc, &mut d).unwrap();
        let mut live: Vec<usize> = vec![];
        for (op, i, n) in ops {
            let pick = |live: &Vec<usize>| live.get(i % live.len().max(1)).copied();
            match op {
                0 | 1 => {
                    if let Ok(p) = h.malloc(n) {
                        let _ = h.observer_mut().write(p as u64, n as u64);
                        live.push(p);
                    }
                }
                2 => {
                    if let Some(p) = pick(&live) {
                        h.free(p).unwrap();
                        live.retain(|&q| q != p);
                    }
                }
                3 => {
                    if let Some(p) = pick(&live) {
                        if let Ok(q) = h.realloc(p, n) {
                            live.retain(|&x| x != p);
                            live.push(q);
                        }
                    }
                }
                4 => {
                    if let Some(p) = pick(&live) {
                        let len = h.usable_size(p).unwrap() as u64;
                        let _ = h.observer_mut().read(p as u64, len);
                    }
                }
                _ => {
                    // Start over: a new heap at the same place, the break back at the start.
                    drop(h);
                    let _ = d.follow_brk(START);
                    invariants(d.process())?;
                    prop_assert_eq!(d.process().stats().rss_heap, 0);
                    prop_assert_eq!(d.chunks().count(), 0);
                    h = Heap::observed(Arena::new(4 << 20).unwrap(), &hc, &mut d).unwrap();
                    live.clear();
                }
            }
            prop_assert_eq!(h.observer().process().mm().brk(), h.brk() as u64, "the simulated break is the engine's");
            invariants(h.observer().process())?;
        }
    }
}
