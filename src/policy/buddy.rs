//! Binary buddy allocator (being written).
use super::block::Layout;
use super::Policy;
use crate::event::Observer;
use crate::heap::{BlockInfo, Mem};
use crate::source::Source;
use crate::HeapError;

#[derive(Clone, Debug)]
pub struct Buddy {
    layout: Layout,
}

impl Buddy {
    pub fn new(layout: Layout) -> Result<Buddy, HeapError> {
        Ok(Buddy { layout })
    }
}

impl Policy for Buddy {
    fn init<S: Source>(&mut self, _m: &mut Mem<S>) {}
    fn layout(&self) -> Layout {
        self.layout
    }
    fn validate<S: Source>(&self, _m: &Mem<S>, _p: u32, addr: usize) -> Result<u32, HeapError> {
        Err(HeapError::Foreign { addr })
    }
    fn malloc<S: Source, O: Observer>(&mut self, _m: &mut Mem<S>, _o: &mut O, request: usize, _align: u32) -> Result<u32, HeapError> {
        Err(HeapError::OutOfMemory { requested: request })
    }
    fn free<S: Source, O: Observer>(&mut self, _m: &mut Mem<S>, _o: &mut O, _b: u32) {}
    fn realloc<S: Source, O: Observer>(&mut self, _m: &mut Mem<S>, _o: &mut O, _b: u32, request: usize) -> Result<u32, HeapError> {
        Err(HeapError::OutOfMemory { requested: request })
    }
    fn usable_size<S: Source>(&self, _m: &Mem<S>, _b: u32) -> u32 {
        0
    }
    fn walk<S: Source>(&self, _m: &Mem<S>, _f: &mut dyn FnMut(BlockInfo)) {}
    fn free_lists<S: Source>(&self, _m: &Mem<S>, _f: &mut dyn FnMut(usize, u32)) {}
    fn check<S: Source>(&self, _m: &Mem<S>) -> Result<(), (u32, &'static str)> {
        Ok(())
    }
}
