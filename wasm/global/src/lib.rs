//! Nothing but the allocator: the tests in `tests/` make `heaptale::Allocator` the global
//! allocator of a wasm test module and run std's collections on it.
