//! TLSF (two-level segregated fit, Masmano et al. 2004): the production policy.
//!
//! Sizes map to a first level (the power of two, `fl`) and a second level (which of 16 equal
//! slices of that power, `sl`). One bit per non-empty list, at both levels, turns "find a
//! list whose every block fits" into two count-trailing-zeros: constant time, no scans.
//!
//! A request first tries the head of its own list (the tightest fit at hand, when it is large
//! enough), then the first non-empty list above its own, whose every block fits ("good
//! fit"). The block itself is not rounded: the unused tail is split off and given back.

use super::block::{Geometry, NIL};
use super::bt::FreeIndex;
use super::classes::{check_list, push, unlink};
use crate::heap::Mem;
use crate::source::Source;

const SL_LOG: u32 = 4;
const SL: usize = 1 << SL_LOG;
const FL: usize = 32;
/// How many blocks of one list [`Tlsf::find_thorough`] looks at, at most.
const THOROUGH_PROBES: u32 = 64;

#[derive(Clone, Debug)]
pub struct Tlsf {
    fl_map: u32,
    sl_map: [u16; FL],
    heads: [[u32; SL]; FL],
}

impl Default for Tlsf {
    fn default() -> Self {
        Tlsf::new()
    }
}

/// The list of a block size: `(fl, sl)`. Both are masked into range, which also lets the
/// compiler drop bounds checks where they index the tables.
///
/// Blocks are never smaller than 16 bytes (room for a header, two links and a footer), so
/// the first level starts at 4: sizes of 16 to 31 bytes are 16 lists of one byte each.
#[inline(always)]
fn mapping(size: u32) -> (usize, usize) {
    debug_assert!(size >= 1 << SL_LOG);
    let fl = 31 - (size | (1 << SL_LOG)).leading_zeros();
    let sl = ((size >> (fl - SL_LOG)) as usize ^ SL) & (SL - 1);
    (fl as usize & (FL - 1), sl)
}

impl Tlsf {
    pub const fn new() -> Self {
        Tlsf {
            fl_map: 0,
            sl_map: [0; FL],
            heads: [[0; SL]; FL],
        }
    }

    #[inline(always)]
    fn nonempty(&self, fl: usize, sl: usize) -> bool {
        self.sl_map[fl & (FL - 1)] & (1 << (sl & (SL - 1))) != 0
    }

    #[inline(always)]
    fn head(&mut self, fl: usize, sl: usize) -> &mut u32 {
        &mut self.heads[fl & (FL - 1)][sl & (SL - 1)]
    }

    /// The first non-empty list above `(fl, sl)`: every block in it is larger than any
    /// block of `(fl, sl)` ("good fit" for a request in that list's range).
    #[inline(always)]
    fn search_after(&self, fl: usize, sl: usize) -> Option<(usize, usize)> {
        let here = self.sl_map[fl & (FL - 1)] as u32 & ((u32::MAX << 1) << (sl & (SL - 1)));
        if here != 0 {
            return Some((fl, here.trailing_zeros() as usize));
        }
        let above = if fl + 1 < FL {
            self.fl_map & (u32::MAX << (fl + 1))
        } else {
            0
        };
        if above == 0 {
            return None;
        }
        let fl = above.trailing_zeros() as usize & (FL - 1);
        Some((
            fl,
            (self.sl_map[fl] as u32).trailing_zeros() as usize & (SL - 1),
        ))
    }
}

impl FreeIndex for Tlsf {
    const COALESCES: bool = true;

    #[cfg_attr(not(feature = "small"), inline)]
    #[cfg_attr(feature = "small", inline(never))]
    fn insert<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32) {
        let (fl, sl) = mapping(size);
        let was = self.nonempty(fl, sl);
        push(m, l, self.head(fl, sl), was, b);
        self.sl_map[fl] |= 1 << sl;
        self.fl_map |= 1 << fl;
    }

    #[cfg_attr(not(feature = "small"), inline)]
    #[cfg_attr(feature = "small", inline(never))]
    fn remove<G: Geometry, S: Source>(&mut self, m: &mut Mem<S>, l: &G, b: u32, size: u32) {
        let (fl, sl) = mapping(size);
        if unlink(m, l, self.head(fl, sl), b) {
            self.sl_map[fl] &= !(1 << sl);
            if self.sl_map[fl] == 0 {
                self.fl_map &= !(1 << fl);
            }
        }
    }

    #[cfg_attr(not(feature = "small"), inline(always))]
    #[cfg_attr(feature = "small", inline(never))]
    fn replace<G: Geometry, S: Source>(
        &mut self,
        m: &mut Mem<S>,
        l: &G,
        old: u32,
        old_size: u32,
        new: u32,
        new_size: u32,
    ) {
        let (fl, sl) = mapping(old_size);
        if mapping(new_size) == (fl, sl) {
            // The rest of a split block often stays in its list: it takes the block's place.
            super::classes::relink(m, l, self.head(fl, sl), old, new);
        } else {
            self.remove(m, l, old, old_size);
            self.insert(m, l, new, new_size);
        }
    }

    #[cfg_attr(not(feature = "small"), inline(always))]
    #[cfg_attr(feature = "small", inline(never))]
    fn merged<G: Geometry, S: Source>(
        &mut self,
        m: &mut Mem<S>,
        l: &G,
        old: u32,
        old_size: u32,
        new: u32,
        new_size: u32,
    ) {
        let (fl, sl) = mapping(old_size);
        if mapping(new_size) != (fl, sl) {
            self.remove(m, l, old, old_size);
            self.insert(m, l, new, new_size);
        } else if new != old {
            // The merged block stays in the list: it takes the absorbed block's place.
            super::classes::relink(m, l, self.head(fl, sl), old, new);
        }
    }

    #[cfg_attr(not(feature = "small"), inline(always))]
    #[cfg_attr(feature = "small", inline(never))]
    fn find<G: Geometry, S: Source>(
        &mut self,
        m: &Mem<S>,
        l: &G,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)> {
        let base = m.base_ptr() as usize;
        // Aligned requests look for room for the worst lead gap as well.
        let want = asize.checked_add(l.lead_room(align))?;
        // The request's own list first: its head, when large enough, is the tightest fit
        // at hand (rounding up would skip it and cut a larger block).
        let (fl, sl) = mapping(want);
        if self.nonempty(fl, sl) {
            let b = *self.head(fl, sl);
            *probes += 1;
            let size = m.size_of(b);
            if let Some(lead) = l.fit(base, b, size, asize, align) {
                return Some((b, size, lead));
            }
        }
        // Good fit: any block of a list above the request's own will do.
        if let Some((fl, sl)) = self.search_after(fl, sl) {
            let b = *self.head(fl, sl);
            *probes += 1;
            let size = m.size_of(b);
            if let Some(lead) = l.fit(base, b, size, asize, align) {
                return Some((b, size, lead));
            }
        }
        None
    }

    /// Every block of the lists `find` looks at only by their head (the request's own list,
    /// and for an aligned request the lists up to the one whose every block has room for the
    /// worst lead gap): the smallest block that fits.
    #[inline(never)]
    fn find_thorough<G: Geometry, S: Source>(
        &mut self,
        m: &Mem<S>,
        l: &G,
        asize: u32,
        align: u32,
        probes: &mut u32,
    ) -> Option<(u32, u32, u32)> {
        let base = m.base_ptr() as usize;
        let last = mapping(asize.checked_add(l.lead_room(align))?);
        let mut at = mapping(asize);
        let mut best: Option<(u32, u32, u32)> = None;
        loop {
            if self.nonempty(at.0, at.1) {
                let mut e = *self.head(at.0, at.1);
                let mut budget = THOROUGH_PROBES;
                while e != NIL && budget > 0 {
                    budget -= 1;
                    *probes += 1;
                    let size = m.size_of(e);
                    if best.is_none_or(|(_, s, _)| size < s) {
                        if let Some(lead) = l.fit(base, e, size, asize, align) {
                            best = Some((e, size, lead));
                        }
                    }
                    e = m.next_link(l, e);
                }
            }
            if best.is_some() || at >= last {
                return best;
            }
            at = self.search_after(at.0, at.1)?;
            if at > last {
                return None;
            }
        }
    }

    fn for_each<G: Geometry, S: Source>(&self, m: &Mem<S>, l: &G, f: &mut dyn FnMut(usize, u32)) {
        for fl in 0..FL {
            for sl in 0..SL {
                if self.nonempty(fl, sl) {
                    let mut e = self.heads[fl][sl];
                    while e != NIL {
                        f(fl * SL + sl, e);
                        e = m.next_link(l, e);
                    }
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
        for fl in 0..FL {
            if (self.fl_map & (1 << fl) != 0) != (self.sl_map[fl] != 0) {
                return Err("the first-level bitmap disagrees with the second level");
            }
            for sl in 0..SL {
                if self.nonempty(fl, sl) {
                    let k = check_list(m, l, self.heads[fl][sl], &mut budget, |s| {
                        mapping(s) == (fl, sl)
                    })?;
                    if k == 0 {
                        return Err("a size class is marked non-empty but its list is empty");
                    }
                    n += k;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::mapping;

    #[test]
    fn mapping_splits_each_power_of_two_in_sixteen() {
        assert_eq!(mapping(16), (4, 0));
        assert_eq!(mapping(31), (4, 15));
        assert_eq!(mapping(32), (5, 0));
        assert_eq!(mapping(34), (5, 1));
        assert_eq!(mapping(1024), (10, 0));
        assert_eq!(mapping(1024 + 64), (10, 1));
        assert_eq!(mapping((1 << 30) - 1), (29, 15));
    }
}
