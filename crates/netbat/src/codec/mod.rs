//! The sans-IO codec: NETBAT/1 lines, NETBAT/2 frames, hex, and a bounded
//! line reader. Pure functions over bytes; no I/O, no clocks.

pub mod frame;
pub mod hex;
pub mod line;
pub mod reader;
