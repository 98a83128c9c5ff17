//! The textbook policies: one explicit free list, searched first, next, best or worst fit,
//! kept in address order, by size, or in insertion order (LIFO / FIFO) — every knob of
//! OSTEP's free-space simulator.
//!
//! The list is doubly linked through the free blocks themselves (see [`super::block`]).

use super::block::{Geometry, NIL};
use super::bt::FreeIndex;
use super::{Fit, Order};
use crate::heap::Mem;
use crate::source::Source;

/// A single free list with a search rule and an order.
#[derive(Clone, Debug)]
pub struct FreeList {
    pub fit: Fit,
    pub order: Order,
    head: u32,
    tail: u32,
    /// Next fit: the block where the next search starts.
    rover: u32,
}

impl FreeList {
    pub const fn new(fit: Fit, order: Order) -> Self {
        FreeList {
            fit,
            order,
            head: NIL,
            tail: NIL,
            rover: NIL,
        }
    }

    /// Links `b` in before `at` (`NIL`: at the tail).
    fn link_before<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, at: u32) {
        let prev = if at == NIL {
            self.tail
        } else {
            m.prev_link(l, at)
        };
        m.set_next_link(l, b, at);
        m.set_prev_link(l, b, prev);
        if prev == NIL {
            self.head = b;
        } else {
            m.set_next_link(l, prev, b);
        }
        if at == NIL {
            self.tail = b;
        } else {
            m.set_prev_link(l, at, b);
        }
    }

    /// Where `b` of `size` bytes goes in list order: the entry it goes before.
    fn position<G: Geometry, S: Source>(&self, m: &Mem<S>, l: &G, b: u32, size: u32) -> u32 {
        let goes_before: fn(u32, u32, u32, u32) -> bool = match self.order {
            Order::Front => return self.head,
            Order::Back => return NIL,
            Order::Addr => |b, _, e, _| e > b,
            // Equal sizes: the newcomer goes after the ones already there.
            Order::SizeAsc => |_, s, _, es| es > s,
            Order::SizeDesc => |_, s, _, es| es < s,
        };
        let mut e = self.head;
        while e != NIL && !goes_before(b, size, e, m.size_of(e)) {
            e = m.next_link(l, e);
        }
        e
    }

    fn in_order<S: Source>(&self, m: &Mem<S>, a: u32, b: u32) -> bool {
        match self.order {
            Order::Addr => a < b,
            Order::SizeAsc => m.size_of(a) <= m.size_of(b),
            Order::SizeDesc => m.size_of(a) >= m.size_of(b),
            Order::Front | Order::Back => true,
        }
    }
}

impl FreeIndex for FreeList {
    fn insert<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32) {
        let at = self.position(m, l, b, size);
        self.link_before(m, l, b, at);
    }

    fn remove<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, _size: u32) {
        let (next, prev) = (m.next_link(l, b), m.prev_link(l, b));
        if prev == NIL {
            self.head = next;
        } else {
            m.set_next_link(l, prev, next);
        }
        if next == NIL {
            self.tail = prev;
        } else {
            m.set_prev_link(l, next, prev);
        }
        if self.rover == b {
            self.rover = next;
        }
    }

    fn replace<G: Geometry, S: Source>(
        &mut self,
        m: &mut Mem<S>,
        l: &G,
        old: u32,
        old_size: u32,
        new: u32,
        new_size: u32,
    ) {
        if matches!(self.order, Order::SizeAsc | Order::SizeDesc) {
            self.remove(m, l, old, old_size);
            self.insert(m, l, new, new_size);
            return;
        }
        // By address or by insertion time, the rest of a block belongs where the block was.
        let (next, prev) = (m.next_link(l, old), m.prev_link(l, old));
        m.set_next_link(l, new, next);
        m.set_prev_link(l, new, prev);
        if prev == NIL {
            self.head = new;
        } else {
            m.set_next_link(l, prev, new);
        }
        if next == NIL {
            self.tail = new;
        } else {
            m.set_prev_link(l, next, new);
        }
        if self.rover == old {
            self.rover = new;
        }
    }

    fn find<G: Geometry, S: Source>(
        &mut self,
        m: &Mem<S>,
        l: &G,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)> {
        let base = m.base_ptr() as usize;
        let start = match self.fit {
            Fit::Next if self.rover != NIL => self.rover,
            _ => self.head,
        };
        let mut best: Option<(u32, u32, u32)> = None;
        let mut e = start;
        while e != NIL {
            *probes += 1;
            let size = m.size_of(e);
            if let Some(lead) = l.fit(base, e, size, asize, align) {
                match self.fit {
                    Fit::First | Fit::Next => {
                        self.rover = e;
                        return Some((e, size, lead));
                    }
                    Fit::Best if best.is_none_or(|(_, s, _)| size < s) => {
                        best = Some((e, size, lead))
                    }
                    Fit::Worst if best.is_none_or(|(_, s, _)| size > s) => {
                        best = Some((e, size, lead))
                    }
                    _ => {}
                }
            }
            e = m.next_link(l, e);
            // Next fit wraps around to the head and stops where it started.
            if e == NIL && self.fit == Fit::Next && start != self.head {
                e = self.head;
            }
            if e == start {
                break;
            }
        }
        best
    }

    fn for_each<G: Geometry, S: Source>(&self, m: &Mem<S>, l: &G, f: &mut dyn FnMut(usize, u32)) {
        let mut e = self.head;
        while e != NIL {
            f(0, e);
            e = m.next_link(l, e);
        }
    }

    fn check<G: Geometry, S: Source>(
        &self,
        m: &Mem<S>,
        l: &G,
        free: u32,
    ) -> Result<u32, &'static str> {
        let (mut n, mut prev, mut e) = (0u32, NIL, self.head);
        let mut rover_seen = self.rover == NIL;
        while e != NIL {
            if n >= free {
                return Err(
                    "the free list holds more entries than there are free blocks (a cycle?)",
                );
            }
            if e >= m.brk() || m.is_used(e) {
                return Err("the free list holds a block that is not free");
            }
            if m.prev_link(l, e) != prev {
                return Err("a free-list back link does not match");
            }
            if prev != NIL && !self.in_order(m, prev, e) {
                return Err("the free list is out of order");
            }
            rover_seen |= e == self.rover;
            n += 1;
            prev = e;
            e = m.next_link(l, e);
        }
        if self.tail != prev {
            return Err("the free list's tail is not its last entry");
        }
        if !rover_seen {
            return Err("the next-fit rover points outside the free list");
        }
        Ok(n)
    }
}
