//! (area being written)
