//! Errors are values: every failed call returns one of these and leaves the heap as it was.

use core::fmt;

/// Why a heap operation failed. The heap is unchanged after any of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The memory source could not grow (or a fixed heap is full).
    OutOfMemory { requested: usize },
    /// A size computation overflowed (`calloc(n, size)`, or a size beyond the heap's range).
    SizeOverflow,
    /// An alignment that is not a power of two, or above the 64 KiB maximum.
    BadAlignment { align: usize },
    /// The block at this address is already free.
    DoubleFree { addr: usize },
    /// The address lies outside the heap, or is not aligned as payloads are.
    Foreign { addr: usize },
    /// The address lies inside the heap but no block starts there.
    Interior { addr: usize },
    /// A header or footer holds impossible values (an overflow wrote over it).
    Corrupt { addr: usize, what: &'static str },
    /// A knob has a value the engine cannot use.
    BadConfig(&'static str),
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HeapError::OutOfMemory { requested } => {
                write!(f, "out of memory: no room for {requested} bytes and the heap cannot grow")
            }
            HeapError::SizeOverflow => write!(f, "size overflow: the requested size is too large"),
            HeapError::BadAlignment { align } => write!(
                f,
                "bad alignment {align}: it must be a power of two no larger than 65536"
            ),
            HeapError::DoubleFree { addr } => write!(f, "double free: the block at {addr:#x} is already free"),
            HeapError::Foreign { addr } => {
                write!(f, "invalid pointer {addr:#x}: it was not returned by this heap")
            }
            HeapError::Interior { addr } => write!(
                f,
                "invalid pointer {addr:#x}: it points inside the heap but not at the start of a block"
            ),
            HeapError::Corrupt { addr, what } => {
                write!(f, "heap corruption at {addr:#x}: {what}")
            }
            HeapError::BadConfig(why) => write!(f, "bad configuration: {why}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HeapError {}
