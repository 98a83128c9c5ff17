//! The playground's policy: any engine policy, wrapped so that time travel can put a saved
//! policy state back into a heap without re-initialising it.
//!
//! A heap's state is its bytes, its break and its policy's state (list heads, bitmaps, the
//! next-fit rover; every policy is plain data). A snapshot copies all three; to restore one,
//! a heap is made again over the same pages with the saved policy, whose `init` must then do
//! nothing (the bytes it would write are copied back instead). Everything else delegates.

use heaptale::event::Observer;
use heaptale::heap::{BlockInfo, Mem};
use heaptale::policy::{AnyPolicy, Layout, Policy};
use heaptale::source::Source;
use heaptale::HeapError;

#[derive(Clone, Debug)]
pub struct PlayPolicy {
    pub inner: AnyPolicy,
    /// `init` leaves the heap alone once (the state is a restored one).
    restored: bool,
}

impl PlayPolicy {
    /// A fresh policy: `init` sets the heap up as usual.
    pub fn new(inner: AnyPolicy) -> PlayPolicy {
        PlayPolicy {
            inner,
            restored: false,
        }
    }
    /// A saved policy state: `init` does nothing, the caller restores the bytes.
    pub fn restored(inner: AnyPolicy) -> PlayPolicy {
        PlayPolicy {
            inner,
            restored: true,
        }
    }
}

impl Policy for PlayPolicy {
    fn init<S: Source>(&mut self, m: &mut Mem<S>) {
        if !core::mem::take(&mut self.restored) {
            self.inner.init(m)
        }
    }
    #[inline]
    fn layout(&self) -> Layout {
        self.inner.layout()
    }
    #[inline]
    fn validate<S: Source>(&self, m: &Mem<S>, p: u32, addr: usize) -> Result<u32, HeapError> {
        self.inner.validate(m, p, addr)
    }
    #[inline]
    fn malloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        request: usize,
        align: u32,
    ) -> Result<u32, HeapError> {
        self.inner.malloc(m, o, request, align)
    }
    #[inline]
    fn free<S: Source, O: Observer>(&mut self, m: &mut Mem<S>, o: &mut O, b: u32) {
        self.inner.free(m, o, b)
    }
    #[inline]
    fn realloc<S: Source, O: Observer>(
        &mut self,
        m: &mut Mem<S>,
        o: &mut O,
        b: u32,
        request: usize,
    ) -> Result<u32, HeapError> {
        self.inner.realloc(m, o, b, request)
    }
    #[inline]
    fn usable_size<S: Source>(&self, m: &Mem<S>, b: u32) -> u32 {
        self.inner.usable_size(m, b)
    }
    fn walk<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(BlockInfo)) {
        self.inner.walk(m, f)
    }
    fn free_lists<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        self.inner.free_lists(m, f)
    }
    fn quick_blocks<S: Source>(&self, m: &Mem<S>, f: &mut dyn FnMut(usize, u32)) {
        self.inner.quick_blocks(m, f)
    }
    fn check<S: Source>(&self, m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        self.inner.check(m)
    }
}
