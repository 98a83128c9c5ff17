//! Traces: malloc-lab `.rep` files and heaptale's C-like scripts (being written).
