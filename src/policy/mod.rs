//! Placement policies: which free block a request takes, and how free blocks are kept.
//!
//! | name | what it is |
//! |---|---|
//! | `first`, `next`, `best`, `worst` | one explicit free list, searched by that rule, kept in the `--order` given |
//! | `seglist` | segregated fit: a LIFO list per power-of-two size class |
//! | `tlsf` | two-level segregated fit with bitmaps: constant time, the production policy |
//! | `heaptale` | `tlsf` with the production allocator's two options: quick lists and the top block apart |
//! | `buddy` | binary buddy: power-of-two blocks split in halves and merged with their buddy |
//!
//! Every policy implements [`Policy`]; [`AnyPolicy`] picks one at run time from a [`Config`].

pub mod block;
pub mod bt;
pub mod buddy;
mod classes;
pub mod fit;
pub mod seglist;
pub mod tlsf;

use crate::event::Observer;
use crate::heap::{BlockInfo, Mem};
use crate::source::Source;
use crate::HeapError;
pub use block::Layout;
use bt::{Bt, FreeIndex};
use buddy::Buddy;
use core::fmt;
use core::str::FromStr;

/// What every policy does. Offsets, not addresses (see the crate docs); `b` is a block,
/// `p` a payload. [`crate::Heap`] validates pointers with [`Policy::validate`] before it
/// calls `free`, `realloc` or `usable_size`.
pub trait Policy {
    /// Sets up the heap over a source at its start (a fixed heap is already grown).
    fn init<S: Source>(&mut self, m: &mut Mem<S>);
    /// Block geometry.
    fn layout(&self) -> Layout;
    /// The block whose payload is at `p`, or why `p` is not a live block's payload.
    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError>;
    /// The block of a payload known to be live (no checks).
    ///
    /// # Safety
    /// `p` must be the payload of a live block of this heap.
    #[inline]
    unsafe fn block_unchecked<S: Source>(&self, m: &Mem<S>, p: u32) -> u32 {
        let _ = m;
        p - self.layout().header
    }
    /// A payload of at least `request` bytes aligned to `align`.
    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError>;
    /// Frees the (validated) block `b`.
    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32);
    /// Resizes the (validated) block `b`, in place when it can; returns the payload.
    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError>;
    /// Payload bytes the (validated) block `b` can hold.
    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32;
    /// Every block from the heap's start to the break, in address order.
    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo));
    /// Every free block, list by list (`list` numbers the lists), in list order.
    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32));
    /// Every block waiting in a quick list (still marked used), as `(list, block)`, list by
    /// list in list order; policies without quick lists have none.
    fn quick_blocks<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        let _ = (m, f);
    }
    /// Verifies every invariant; on failure, the offset concerned (or `u32::MAX`) and why.
    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)>;
}

impl<F: FreeIndex, G: block::Geometry> Policy for Bt<F, G> {
    fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        Bt::init(self, m)
    }
    fn layout(&self) -> Layout {
        block::Geometry::layout(&self.layout)
    }
    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        Bt::validate(self, m, p, addr)
    }
    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        Bt::malloc(self, m, o, request, align)
    }
    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        Bt::free(self, m, o, b)
    }
    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        Bt::realloc(self, m, o, b, request)
    }
    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32 {
        Bt::usable_size(self, m, b)
    }
    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        Bt::walk(self, m, f)
    }
    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        self.index.for_each(m, &self.layout, f);
        if let Some(t) = self.top(m) {
            f(bt::TOP_LIST, t);
        }
    }
    fn quick_blocks<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        Bt::quick_blocks(self, m, f)
    }
    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        Bt::check(self, m)
    }
}

/// The search rule of the list policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    First,
    Next,
    Best,
    Worst,
}

/// The order of a free list (`--order`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// Sorted by address.
    #[default]
    Addr,
    /// Sorted by size, smallest first.
    SizeAsc,
    /// Sorted by size, largest first.
    SizeDesc,
    /// Freed blocks go to the front (LIFO).
    Front,
    /// Freed blocks go to the back (FIFO).
    Back,
}

impl Order {
    pub const ALL: [Order; 5] = [
        Order::Addr,
        Order::SizeAsc,
        Order::SizeDesc,
        Order::Front,
        Order::Back,
    ];
    pub const fn name(self) -> &'static str {
        match self {
            Order::Addr => "addr",
            Order::SizeAsc => "size-asc",
            Order::SizeDesc => "size-desc",
            Order::Front => "front",
            Order::Back => "back",
        }
    }
}

impl FromStr for Order {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Order::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or("unknown order: expected addr, size-asc, size-desc, front or back")
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The policies, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PolicyKind {
    #[default]
    First,
    Next,
    Best,
    Worst,
    Seglist,
    Tlsf,
    /// TLSF as `heaptale::Allocator` runs it: with quick lists and the top block apart.
    Heaptale,
    Buddy,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 8] = [
        PolicyKind::First,
        PolicyKind::Next,
        PolicyKind::Best,
        PolicyKind::Worst,
        PolicyKind::Seglist,
        PolicyKind::Tlsf,
        PolicyKind::Heaptale,
        PolicyKind::Buddy,
    ];
    pub const fn name(self) -> &'static str {
        match self {
            PolicyKind::First => "first",
            PolicyKind::Next => "next",
            PolicyKind::Best => "best",
            PolicyKind::Worst => "worst",
            PolicyKind::Seglist => "seglist",
            PolicyKind::Tlsf => "tlsf",
            PolicyKind::Heaptale => "heaptale",
            PolicyKind::Buddy => "buddy",
        }
    }
    /// One line on what the policy does.
    pub const fn description(self) -> &'static str {
        match self {
            PolicyKind::First => "first fit: take the first free block in list order that is large enough",
            PolicyKind::Next => "next fit: like first fit, but each search starts where the last one stopped",
            PolicyKind::Best => "best fit: take the smallest free block that is large enough",
            PolicyKind::Worst => "worst fit: take the largest free block, leaving the largest remainder",
            PolicyKind::Seglist => "segregated fit: one LIFO free list per power-of-two size class",
            PolicyKind::Tlsf => "TLSF: two-level size classes found through bitmaps in constant time (the production allocator's policy)",
            PolicyKind::Heaptale => "heaptale::Allocator's setup: TLSF, plus quick lists that keep freed blocks of up to 136 bytes for the next request of their size (as glibc's tcache), and the top block kept apart and carved last (dlmalloc's top chunk)",
            PolicyKind::Buddy => "binary buddy: power-of-two blocks, split in halves, merged with their buddy on free",
        }
    }
    /// Whether the `--order` knob applies.
    pub const fn has_order(self) -> bool {
        matches!(
            self,
            PolicyKind::First | PolicyKind::Next | PolicyKind::Best | PolicyKind::Worst
        )
    }
    const fn fit(self) -> Option<Fit> {
        match self {
            PolicyKind::First => Some(Fit::First),
            PolicyKind::Next => Some(Fit::Next),
            PolicyKind::Best => Some(Fit::Best),
            PolicyKind::Worst => Some(Fit::Worst),
            _ => None,
        }
    }
}

impl FromStr for PolicyKind {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL.into_iter().find(|p| p.name() == s).ok_or(
            "unknown policy: expected first, next, best, worst, seglist, tlsf, heaptale or buddy",
        )
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every knob, with the names the CLI, the JS API and URLs share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `--policy`
    pub policy: PolicyKind,
    /// `--order` (list policies only)
    pub order: Order,
    /// `--coalesce on|off` (list policies only; the others always coalesce)
    pub coalesce: bool,
    /// `--header BYTES`
    pub header: u32,
    /// `--align BYTES`
    pub align: u32,
    /// `--heap-size BYTES`: a heap of this size from the start that never grows.
    pub heap_size: Option<u32>,
    /// `--base ADDR`: the address reports give the heap's start.
    pub base: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policy: PolicyKind::First,
            order: Order::Addr,
            coalesce: true,
            header: 8,
            align: 8,
            heap_size: None,
            base: None,
        }
    }
}

/// A policy chosen at run time.
#[derive(Clone, Debug)]
pub enum AnyPolicy {
    List(Bt<fit::FreeList>),
    Seglist(Bt<seglist::SegLists>),
    Tlsf(Bt<tlsf::Tlsf>),
    Buddy(Buddy),
}

impl AnyPolicy {
    pub fn new(c: &Config) -> Result<AnyPolicy, HeapError> {
        let layout = Layout::new(c.header, c.align)?;
        Ok(match (c.policy, c.policy.fit()) {
            (_, Some(fit)) => AnyPolicy::List(Bt::new(
                layout,
                c.coalesce,
                fit::FreeList::new(fit, c.order),
            )),
            (PolicyKind::Seglist, _) => {
                AnyPolicy::Seglist(Bt::new(layout, true, seglist::SegLists::new()))
            }
            (PolicyKind::Tlsf, _) => AnyPolicy::Tlsf(Bt::new(layout, true, tlsf::Tlsf::new())),
            (PolicyKind::Heaptale, _) => AnyPolicy::Tlsf(
                Bt::new(layout, true, tlsf::Tlsf::new())
                    .with_quick_lists(block::PRODUCTION_QUICK_MAX)
                    .with_top_apart(),
            ),
            _ => AnyPolicy::Buddy(Buddy::new(layout)?),
        })
    }
}

macro_rules! dispatch {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            AnyPolicy::List($p) => $e,
            AnyPolicy::Seglist($p) => $e,
            AnyPolicy::Tlsf($p) => $e,
            AnyPolicy::Buddy($p) => $e,
        }
    };
}

impl Policy for AnyPolicy {
    fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        dispatch!(self, p => p.init(m))
    }
    fn layout(&self) -> Layout {
        dispatch!(self, p => p.layout())
    }
    unsafe fn block_unchecked<S: Source>(&self, m: &Mem<S>, p: u32) -> u32 {
        // SAFETY: passed on from the caller.
        dispatch!(self, x => unsafe { x.block_unchecked(m, p) })
    }
    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        dispatch!(self, x => x.validate(m, p, addr))
    }
    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        dispatch!(self, p => p.malloc(m, o, request, align))
    }
    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        dispatch!(self, p => p.free(m, o, b))
    }
    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        dispatch!(self, p => p.realloc(m, o, b, request))
    }
    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32 {
        dispatch!(self, p => p.usable_size(m, b))
    }
    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        dispatch!(self, p => p.walk(m, f))
    }
    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        dispatch!(self, p => p.free_lists(m, f))
    }
    fn quick_blocks<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        dispatch!(self, p => p.quick_blocks(m, f))
    }
    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        dispatch!(self, p => p.check(m))
    }
}
