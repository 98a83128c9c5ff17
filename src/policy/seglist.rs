//! Segregated fit: one free list per power-of-two size class (`[2^k, 2^(k+1))`), a bitmap
//! of the non-empty ones. A request searches its own class first fit, then takes the first
//! block of the next non-empty class, where every block fits. Frees push on the front (LIFO).

use super::block::Geometry;
use super::bt::FreeIndex;
use super::classes::{check_list, push, unlink};
use crate::heap::Mem;
use crate::source::Source;

#[derive(Clone, Debug, Default)]
pub struct SegLists {
    heads: [u32; 32],
    nonempty: u32,
}

#[inline]
fn class(size: u32) -> usize {
    31 - size.leading_zeros() as usize
}

impl SegLists {
    pub const fn new() -> Self {
        SegLists {
            heads: [0; 32],
            nonempty: 0,
        }
    }
}

impl FreeIndex for SegLists {
    fn insert<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32) {
        let c = class(size);
        push(m, l, &mut self.heads[c], self.nonempty & (1 << c) != 0, b);
        self.nonempty |= 1 << c;
    }

    fn remove<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32) {
        let c = class(size);
        if unlink(m, l, &mut self.heads[c], b) {
            self.nonempty &= !(1 << c);
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
        let mut classes = self.nonempty & (u32::MAX << class(asize));
        while classes != 0 {
            let c = classes.trailing_zeros() as usize;
            classes &= classes - 1;
            let mut e = self.heads[c];
            while e != super::block::NIL {
                *probes += 1;
                let size = m.size_of(e);
                if let Some(lead) = l.fit(base, e, size, asize, align) {
                    return Some((e, size, lead));
                }
                e = m.next_link(l, e);
            }
        }
        None
    }

    fn for_each<G: Geometry, S: Source>(&self, m: &Mem<S>, l: &G, f: &mut dyn FnMut(usize, u32)) {
        for c in 0..32 {
            if self.nonempty & (1 << c) != 0 {
                let mut e = self.heads[c];
                while e != super::block::NIL {
                    f(c, e);
                    e = m.next_link(l, e);
                }
            }
        }
    }

    fn check<G: Geometry, S: Source>(
        &self,
        m: &Mem<S>,
        l: &G,
        free: u32,
    ) -> Result<u32, &'static str> {
        let (mut budget, mut n) = (free, 0);
        for c in 0..32 {
            if self.nonempty & (1 << c) != 0 {
                let k = check_list(m, l, self.heads[c], &mut budget, |s| class(s) == c)?;
                if k == 0 {
                    return Err("a size class is marked non-empty but its list is empty");
                }
                n += k;
            }
        }
        Ok(n)
    }
}
