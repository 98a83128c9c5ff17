//! The traces, converted by `build.rs` into binary op lists (see there for the format).

/// Bytes aligned to 4 so they can be read as `u32` words.
#[repr(C, align(4))]
pub struct Aligned<T: ?Sized>(pub T);

pub struct TraceData {
    pub name: &'static str,
    pub source: &'static str,
    pub ids: u32,
    pub ops: u32,
    pub repeat: u32,
    pub bytes: &'static Aligned<[u8]>,
}

impl TraceData {
    /// The op list as little-endian words (wasm32 is little-endian).
    pub fn words(&self) -> &'static [u32] {
        let b = &self.bytes.0;
        // SAFETY: `Aligned` makes the bytes 4-aligned; any bit pattern is a valid u32.
        unsafe { core::slice::from_raw_parts(b.as_ptr() as *const u32, b.len() / 4) }
    }
}

include!(concat!(env!("OUT_DIR"), "/traces.rs"));
