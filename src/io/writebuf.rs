//! An output queue for a non-blocking socket: bytes go out in order, as
//! far as the socket takes them, the rest waits for the next writable
//! event. One copy of the partial-write, EINTR and compaction rules for
//! every socket that writes without blocking.

use std::io::{self, ErrorKind, Write};

/// Bytes waiting to be written, oldest first.
#[derive(Debug, Default)]
pub struct WriteBuf {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    start: usize,
}

impl WriteBuf {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `bytes` behind what is waiting.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes queued and not yet written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes with `write` (a `send`, a `Write::write`) until everything
    /// is out or the socket would block; `Ok` in both cases. A write of
    /// 0 bytes is `WriteZero`; other errors are the writer's. Interrupted
    /// writes are retried.
    pub fn write_with(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let result = loop {
            if self.start == self.buf.len() {
                break Ok(());
            }
            match write(&self.buf[self.start..]) {
                Ok(0) => break Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.compact();
        result
    }

    /// [`WriteBuf::write_with`] over a [`Write`].
    pub fn write_to<W: Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.write_with(|b| w.write(b))
    }

    /// Drops written bytes: all of them once everything is out, else the
    /// written front once it is over half the buffer, so that a slow
    /// reader neither grows the buffer for ever nor costs a copy per
    /// write.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket taking at most `chunk` bytes per write and `room` bytes
    /// in all before it would block; `script` errors come first.
    struct Sink {
        got: Vec<u8>,
        chunk: usize,
        room: usize,
        script: Vec<io::Result<usize>>,
    }

    impl Sink {
        fn new(chunk: usize, room: usize) -> Sink {
            Sink {
                got: Vec::new(),
                chunk,
                room,
                script: Vec::new(),
            }
        }

        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if !self.script.is_empty() {
                return self.script.remove(0);
            }
            let n = b.len().min(self.chunk).min(self.room);
            if n == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            self.room -= n;
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
    }

    #[test]
    fn writes_everything_in_pieces_and_in_order() {
        let mut w = WriteBuf::new();
        w.push(b"hello ");
        w.push(b"world");
        let mut s = Sink::new(3, usize::MAX);
        w.write_with(|b| s.write(b)).unwrap();
        assert_eq!(s.got, b"hello world");
        assert!(w.is_empty());
        assert!(w.buf.capacity() > 0, "cleared, not freed");
        assert_eq!((w.buf.len(), w.start), (0, 0));
    }

    #[test]
    fn a_full_socket_keeps_the_rest_for_later() {
        let mut w = WriteBuf::new();
        w.push(b"0123456789");
        let mut s = Sink::new(4, 3);
        w.write_with(|b| s.write(b)).unwrap();
        assert_eq!((s.got.as_slice(), w.len()), (&b"012"[..], 7));
        // Less than half written: no copy yet.
        assert_eq!(w.start, 3);
        w.push(b"ab");
        s.room = 4;
        w.write_with(|b| s.write(b)).unwrap();
        // Over half written (7 of 12): the front is dropped.
        assert_eq!((w.start, w.len()), (0, 5));
        s.room = 100;
        w.write_with(|b| s.write(b)).unwrap();
        assert_eq!(s.got, b"0123456789ab");
        assert!(w.is_empty());
    }

    #[test]
    fn interrupted_is_retried_and_errors_are_reported() {
        let mut w = WriteBuf::new();
        w.push(b"abc");
        let mut s = Sink::new(10, 10);
        s.script = vec![Err(ErrorKind::Interrupted.into())];
        w.write_with(|b| s.write(b)).unwrap();
        assert_eq!(s.got, b"abc");

        w.push(b"abc");
        s.script = vec![Ok(0)];
        let e = w.write_with(|b| s.write(b)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WriteZero);
        s.script = vec![Err(ErrorKind::BrokenPipe.into())];
        let e = w.write_with(|b| s.write(b)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        assert_eq!(w.len(), 3, "nothing is lost on an error");
    }

    #[test]
    fn over_a_writer() {
        let mut w = WriteBuf::new();
        w.push(b"xyz");
        let mut out: Vec<u8> = Vec::new();
        w.write_to(&mut out).unwrap();
        assert_eq!(out, b"xyz");
        assert!(w.is_empty());
    }
}
