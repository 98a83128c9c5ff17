//! Page replacement: which resident page to evict when a page must come in and no frame is
//! free. The policies of OSTEP's chapter 22 and its `paging-policy.py`:
//!
//! - **FIFO**: the page loaded longest ago. Suffers Belady's anomaly (more frames can mean
//!   more faults: `1 2 3 4 1 2 5 1 2 3 4 5` faults 9 times with 3 frames, 10 with 4).
//! - **LRU**: the page used longest ago.
//! - **CLOCK**: the classic second-chance clock: resident pages sit on a circle with a
//!   reference bit, set on every use (and on load); the hand sweeps, clearing set bits,
//!   and evicts the first page whose bit is already clear; a new page takes the victim's
//!   place, just behind the hand. (OSTEP's script samples pages at random instead of sweeping;
//!   this is the textbook clock, and the one whose bits the playground can draw.)
//! - **OPT** (Belady's MIN): the page whose next use lies furthest in the future, which it
//!   must be told ([`Replacer::set_future`]). Ties (pages never used again) go as in
//!   `paging-policy.py`: to the one loaded last.
//! - **Random**: a page picked with the seeded generator, exactly as `paging-policy.py -p
//!   RAND -s SEED` picks it (`memory.pop(int(random.random() * count))` over pages in load
//!   order): the same seed evicts the same pages.
//!
//! [`simulate`] runs a reference string through a policy with a fixed number of frames, as
//! `paging-policy.py -c` does; the process ([`super::process`]) drives a [`Replacer`] with
//! its own page accesses.

use super::rng::Mt19937;
use super::VmError;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// A replacement policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum ReplacePolicy {
    Fifo,
    #[default]
    Lru,
    Clock,
    Opt,
    Random,
}

impl ReplacePolicy {
    pub const ALL: [ReplacePolicy; 5] = [
        ReplacePolicy::Fifo,
        ReplacePolicy::Lru,
        ReplacePolicy::Clock,
        ReplacePolicy::Opt,
        ReplacePolicy::Random,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            ReplacePolicy::Fifo => "fifo",
            ReplacePolicy::Lru => "lru",
            ReplacePolicy::Clock => "clock",
            ReplacePolicy::Opt => "opt",
            ReplacePolicy::Random => "random",
        }
    }
    pub const fn description(self) -> &'static str {
        match self {
            ReplacePolicy::Fifo => "FIFO: evict the page loaded longest ago",
            ReplacePolicy::Lru => "LRU: evict the page used longest ago",
            ReplacePolicy::Clock => "CLOCK: sweep a hand over the pages, clearing reference bits, and evict the first page whose bit is clear",
            ReplacePolicy::Opt => "OPT: evict the page whose next use is furthest in the future (needs the future)",
            ReplacePolicy::Random => "random: evict a page picked at random (seeded, as OSTEP's RAND)",
        }
    }
}

impl FromStr for ReplacePolicy {
    type Err = VmError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        ReplacePolicy::ALL
            .into_iter()
            .find(|p| {
                p.name().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("rand") && *p == ReplacePolicy::Random)
            })
            .ok_or(VmError::Unknown(
                "replacement policy: expected fifo, lru, clock, opt or random",
            ))
    }
}

impl fmt::Display for ReplacePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "Never used again", for OPT.
const NEVER: usize = usize::MAX;

/// The state of a replacement policy over a set of resident pages.
///
/// Protocol, per access to page `p`: if `p` is not resident and must come in, call
/// [`victim`](Self::victim) as many times as frames must be freed, then
/// [`insert`](Self::insert)`(p)`; in every case, last, [`reference`](Self::reference)`(p)`.
#[derive(Clone, Debug)]
pub struct Replacer {
    policy: ReplacePolicy,
    /// Resident pages and their time: load time (FIFO and the others), last use (LRU).
    time_of: BTreeMap<u64, u64>,
    /// FIFO and LRU: pages by time, the victim first.
    by_time: BTreeMap<u64, u64>,
    tick: u64,
    /// CLOCK, OPT, Random: pages in circle / load order.
    order: Vec<u64>,
    /// CLOCK: reference bits.
    refbit: BTreeMap<u64, bool>,
    /// CLOCK: index into `order` of the next page the hand examines (`order.len()` means 0).
    hand: usize,
    rng: Mt19937,
    /// OPT: the page-access stream, the index of the next access, and for each index the
    /// next index that touches the same page.
    future: Vec<u64>,
    next_idx: Vec<usize>,
    pos: usize,
    next_use: BTreeMap<u64, usize>,
}

impl Replacer {
    /// An empty replacer; `seed` drives the random policy.
    pub fn new(policy: ReplacePolicy, seed: u64) -> Replacer {
        Replacer {
            policy,
            time_of: BTreeMap::new(),
            by_time: BTreeMap::new(),
            tick: 0,
            order: Vec::new(),
            refbit: BTreeMap::new(),
            hand: 0,
            rng: Mt19937::new(seed),
            future: Vec::new(),
            next_idx: Vec::new(),
            pos: 0,
            next_use: BTreeMap::new(),
        }
    }

    pub fn policy(&self) -> ReplacePolicy {
        self.policy
    }

    /// Tells OPT the whole page-access stream, from the first access on: one page per
    /// [`reference`](Self::reference) call. Where the real accesses differ from it, OPT
    /// searches the rest of the stream for the page.
    pub fn set_future(&mut self, stream: Vec<u64>) {
        let mut next_idx = alloc::vec![NEVER; stream.len()];
        let mut last: BTreeMap<u64, usize> = BTreeMap::new();
        for i in (0..stream.len()).rev() {
            next_idx[i] = last.get(&stream[i]).copied().unwrap_or(NEVER);
            last.insert(stream[i], i);
        }
        self.future = stream;
        self.next_idx = next_idx;
        self.pos = 0;
        let pages: Vec<u64> = self.next_use.keys().copied().collect();
        for p in pages {
            let n = self.scan_next(p, 0);
            self.next_use.insert(p, n);
        }
    }

    /// How many accesses OPT has seen.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn len(&self) -> usize {
        self.time_of.len()
    }
    pub fn is_empty(&self) -> bool {
        self.time_of.is_empty()
    }
    pub fn contains(&self, page: u64) -> bool {
        self.time_of.contains_key(&page)
    }

    /// The resident pages in the policy's order, the next victim first where the policy
    /// knows it: FIFO oldest first, LRU least recent first, CLOCK from the hand, OPT and
    /// random in load order.
    pub fn pages(&self) -> Vec<u64> {
        match self.policy {
            ReplacePolicy::Fifo | ReplacePolicy::Lru => self.by_time.values().copied().collect(),
            ReplacePolicy::Clock => {
                let h = if self.hand >= self.order.len() {
                    0
                } else {
                    self.hand
                };
                self.order[h..]
                    .iter()
                    .chain(&self.order[..h])
                    .copied()
                    .collect()
            }
            _ => self.order.clone(),
        }
    }

    /// CLOCK: the pages on the circle with their reference bits, from the hand.
    pub fn clock(&self) -> Vec<(u64, bool)> {
        self.pages()
            .into_iter()
            .map(|p| (p, self.refbit.get(&p).copied().unwrap_or(false)))
            .collect()
    }

    /// OPT: when each resident page is next used (`None`: never), in load order.
    pub fn next_uses(&self) -> Vec<(u64, Option<usize>)> {
        self.order
            .iter()
            .map(|&p| (p, self.next_use.get(&p).copied().filter(|&n| n != NEVER)))
            .collect()
    }

    /// Page `page` was loaded.
    pub fn insert(&mut self, page: u64) {
        if self.contains(page) {
            return;
        }
        self.tick += 1;
        self.time_of.insert(page, self.tick);
        match self.policy {
            ReplacePolicy::Fifo | ReplacePolicy::Lru => {
                self.by_time.insert(self.tick, page);
            }
            ReplacePolicy::Clock => {
                let h = self.hand.min(self.order.len());
                self.order.insert(h, page);
                self.hand = h + 1;
                self.refbit.insert(page, true);
            }
            ReplacePolicy::Opt | ReplacePolicy::Random => {
                self.order.push(page);
                if self.policy == ReplacePolicy::Opt {
                    let n = self.scan_next(page, self.pos);
                    self.next_use.insert(page, n);
                }
            }
        }
    }

    /// Page `page` was accessed (call once per access, after any insert).
    pub fn reference(&mut self, page: u64) {
        if self.policy == ReplacePolicy::Opt {
            let i = self.pos;
            self.pos = self.pos.saturating_add(1);
            if self.contains(page) {
                let n = match self.future.get(i) {
                    Some(&p) if p == page => self.next_idx[i],
                    _ => self.scan_next(page, self.pos),
                };
                self.next_use.insert(page, n);
            }
            return;
        }
        let Some(&t) = self.time_of.get(&page) else {
            return;
        };
        match self.policy {
            ReplacePolicy::Lru => {
                self.tick += 1;
                self.by_time.remove(&t);
                self.by_time.insert(self.tick, page);
                self.time_of.insert(page, self.tick);
            }
            ReplacePolicy::Clock => {
                self.refbit.insert(page, true);
            }
            _ => {}
        }
    }

    /// The first index at or after `from` where the future touches `page`.
    fn scan_next(&self, page: u64, from: usize) -> usize {
        self.future
            .get(from..)
            .and_then(|f| f.iter().position(|&p| p == page))
            .map(|k| k + from)
            .unwrap_or(NEVER)
    }

    /// Picks a victim and removes it; `None` if no page is resident.
    pub fn victim(&mut self) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let v = match self.policy {
            ReplacePolicy::Fifo | ReplacePolicy::Lru => *self.by_time.values().next()?,
            ReplacePolicy::Clock => {
                // At most two turns: the first clears every bit.
                let n = self.order.len();
                let mut found = None;
                for _ in 0..=2 * n {
                    if self.hand >= n {
                        self.hand = 0;
                    }
                    let p = self.order[self.hand];
                    let bit = self.refbit.get(&p).copied().unwrap_or(false);
                    if bit {
                        self.refbit.insert(p, false);
                        self.hand += 1;
                    } else {
                        found = Some(p);
                        break;
                    }
                }
                found?
            }
            ReplacePolicy::Opt => {
                let (mut best, mut when) = (None, 0usize);
                for &p in &self.order {
                    let n = self.next_use.get(&p).copied().unwrap_or(NEVER);
                    if best.is_none() || n >= when {
                        best = Some(p);
                        when = n;
                    }
                }
                best?
            }
            ReplacePolicy::Random => {
                let i = self.rng.below(self.order.len() as u64) as usize;
                self.order[i]
            }
        };
        self.remove(v);
        Some(v)
    }

    /// Page `page` left memory by other means (unmapped, or evicted by the caller).
    pub fn remove(&mut self, page: u64) {
        let Some(t) = self.time_of.remove(&page) else {
            return;
        };
        self.by_time.remove(&t);
        self.refbit.remove(&page);
        self.next_use.remove(&page);
        if let Some(i) = self.order.iter().position(|&p| p == page) {
            self.order.remove(i);
            if i < self.hand {
                self.hand -= 1;
            }
        }
    }

    /// Page `old` is now page `new` (moved by `mremap`), keeping its place.
    pub fn rename(&mut self, old: u64, new: u64) {
        if old == new || self.contains(new) {
            return;
        }
        let Some(t) = self.time_of.remove(&old) else {
            return;
        };
        self.time_of.insert(new, t);
        if let Some(p) = self.by_time.get_mut(&t) {
            *p = new;
        }
        if let Some(b) = self.refbit.remove(&old) {
            self.refbit.insert(new, b);
        }
        if self.next_use.remove(&old).is_some() {
            let n = self.scan_next(new, self.pos);
            self.next_use.insert(new, n);
        }
        for p in self.order.iter_mut().filter(|p| **p == old) {
            *p = new;
        }
    }
}

/// One access of a reference-string run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub page: u64,
    pub hit: bool,
    /// The page evicted to make room, if any.
    pub evicted: Option<u64>,
    /// Resident pages after the access, in the policy's order ([`Replacer::pages`]).
    pub memory: Vec<u64>,
}

/// Runs `refs` through `policy` with `frames` frames (OPT knows the whole string; random
/// uses `seed`), as `paging-policy.py -c` does. At most 1,000,000 references and frames.
pub fn simulate(
    policy: ReplacePolicy,
    frames: usize,
    refs: &[u64],
    seed: u64,
) -> Result<Vec<Step>, VmError> {
    if frames == 0 {
        return Err(VmError::BadKnob("there must be at least one frame"));
    }
    if frames > 1_000_000 || refs.len() > 1_000_000 {
        return Err(VmError::BadKnob(
            "at most 1,000,000 frames and 1,000,000 references",
        ));
    }
    let mut r = Replacer::new(policy, seed);
    if policy == ReplacePolicy::Opt {
        r.set_future(refs.to_vec());
    }
    let mut steps = Vec::with_capacity(refs.len());
    for &page in refs {
        let hit = r.contains(page);
        let mut evicted = None;
        if !hit {
            if r.len() >= frames {
                evicted = r.victim();
            }
            r.insert(page);
        }
        r.reference(page);
        steps.push(Step {
            page,
            hit,
            evicted,
            memory: r.pages(),
        });
    }
    Ok(steps)
}
