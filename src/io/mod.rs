//! Small I/O pieces shared by the crate's non-blocking sockets (the
//! Spread client, the control server) and by the `spread-sim` binary.

mod writebuf;

pub use writebuf::WriteBuf;
