//! Doubly linked LIFO lists of free blocks whose heads sit in a table: the shared machinery
//! of the segregated-fit and TLSF policies. Each policy keeps a bitmap of its non-empty
//! lists; a head is meaningful only while its bit is set, so a new table is all zeros (and
//! can live in `.bss` inside a `static`).

use super::block::{Geometry, NIL};
use crate::heap::Mem;
use crate::source::Source;

/// Pushes `b` on the list whose head is `head` (empty if `!nonempty`).
#[inline]
pub fn push<G: Geometry, S: Source>(m: &mut Mem<S>, l: &G, head: &mut u32, nonempty: bool, b: u32) {
    let next = if nonempty { *head } else { NIL };
    m.set_next_link(l, b, next);
    m.set_prev_link(l, b, NIL);
    if next != NIL {
        m.set_prev_link(l, next, b);
    }
    *head = b;
}

/// Unlinks `b` from the list whose head is `head`; true if the list is now empty.
#[inline]
pub fn unlink<G: Geometry, S: Source>(m: &mut Mem<S>, l: &G, head: &mut u32, b: u32) -> bool {
    let (next, prev) = (m.next_link(l, b), m.prev_link(l, b));
    if prev == NIL {
        *head = next;
    } else {
        m.set_next_link(l, prev, next);
    }
    if next != NIL {
        m.set_prev_link(l, next, prev);
    }
    prev == NIL && next == NIL
}

/// Puts `new` where `old` is in the list whose head is `head` (`old` leaves it).
#[inline]
pub fn relink<G: Geometry, S: Source>(m: &mut Mem<S>, l: &G, head: &mut u32, old: u32, new: u32) {
    let (next, prev) = (m.next_link(l, old), m.prev_link(l, old));
    m.set_next_link(l, new, next);
    m.set_prev_link(l, new, prev);
    if prev == NIL {
        *head = new;
    } else {
        m.set_next_link(l, prev, new);
    }
    if next != NIL {
        m.set_prev_link(l, next, new);
    }
}

/// Checks one list: back links, entries free, each in `class`. Returns its length;
/// `budget` bounds how far it is followed (the number of free blocks), catching cycles.
pub fn check_list<G: Geometry, S: Source>(
    m: &Mem<S>,
    l: &G,
    head: u32,
    budget: &mut u32,
    in_class: impl Fn(u32) -> bool,
) -> Result<u32, &'static str> {
    let (mut n, mut prev, mut e) = (0, NIL, head);
    while e != NIL {
        if *budget == 0 {
            return Err("the free lists hold more entries than there are free blocks (a cycle?)");
        }
        *budget -= 1;
        if e >= m.brk() || m.is_used(e) {
            return Err("a free list holds a block that is not free");
        }
        if m.prev_link(l, e) != prev {
            return Err("a free-list back link does not match");
        }
        if !in_class(m.size_of(e)) {
            return Err("a free block sits in the wrong size class");
        }
        n += 1;
        prev = e;
        e = m.next_link(l, e);
    }
    Ok(n)
}
