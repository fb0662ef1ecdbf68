//! `wackatrl`'s end of the control socket: blocking, with a timeout on
//! every read and write so that it never hangs on a stuck daemon.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{decode_reload, decode_state, DecodeError, LegacyVif, Request};

/// A reply longer than this is taken for garbage.
pub const MAX_REPLY: usize = 64 << 20;

/// What went wrong talking to the daemon.
#[derive(Debug)]
pub enum ControlError {
    /// No daemon there (no socket, refused, no permission).
    Connect(io::Error),
    /// The daemon closed the connection before the first byte of the
    /// reply: what a C wackamole does on a request byte it does not know.
    Closed,
    /// The daemon closed the connection in the middle of a reply.
    Truncated,
    /// No reply within the timeout.
    TimedOut(Duration),
    /// A length beyond [`MAX_REPLY`].
    TooLarge(u32),
    Malformed(DecodeError),
    Io(io::Error),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Connect(e) => write!(f, "cannot connect: {}", describe(e)),
            ControlError::Closed => f.write_str("the daemon closed the connection"),
            ControlError::Truncated => {
                f.write_str("the daemon closed the connection in the middle of its reply")
            }
            ControlError::TimedOut(t) => write!(f, "no reply within {} s", t.as_secs_f64()),
            ControlError::TooLarge(n) => write!(f, "a reply of {n} bytes announced"),
            ControlError::Malformed(e) => write!(f, "a malformed reply: {e}"),
            ControlError::Io(e) => describe(e).fmt(f),
        }
    }
}

impl std::error::Error for ControlError {}

/// An I/O error in words, without Rust's "(os error N)".
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
}

/// A connection to the daemon's control socket.
pub struct Client {
    stream: UnixStream,
    path: PathBuf,
    timeout: Duration,
}

impl Client {
    /// Connects to the socket at `path`; every later read and write
    /// gives up after `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ControlError> {
        let stream = UnixStream::connect(path).map_err(ControlError::Connect)?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(ControlError::Io)?;
        Ok(Client {
            stream,
            path: path.to_path_buf(),
            timeout,
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// GET_STATE: the VIF table in C's layout.
    pub fn get_state(&mut self) -> Result<Vec<LegacyVif>, ControlError> {
        let body = self.request(Request::GetState)?;
        decode_state(&body).map_err(ControlError::Malformed)
    }

    /// FAILURE or SUCCESS: the daemon's status word (0 when it acted).
    pub fn post(&mut self, req: Request) -> Result<i32, ControlError> {
        assert!(!req.reply_is_framed(), "{req} is not FAILURE or SUCCESS");
        let b = self.request(req)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// STATUS_JSON: the status text, checked to be JSON.
    pub fn status_json(&mut self) -> Result<super::json::Value, ControlError> {
        let body = self.request(Request::StatusJson)?;
        super::decode_json(&body).map_err(ControlError::Malformed)
    }

    /// RELOAD: whether the daemon took the new config, and its message.
    pub fn reload(&mut self) -> Result<(bool, String), ControlError> {
        let body = self.request(Request::Reload)?;
        decode_reload(&body).map_err(ControlError::Malformed)
    }

    /// Sends one request; returns the body of a framed reply, or the 4
    /// status bytes of FAILURE / SUCCESS.
    pub fn request(&mut self, req: Request) -> Result<Vec<u8>, ControlError> {
        self.stream
            .write_all(&[req.byte()])
            .map_err(|e| self.io_error(e, true))?;
        let mut head = [0u8; 4];
        self.read_all(&mut head, true)?;
        if !req.reply_is_framed() {
            return Ok(head.to_vec());
        }
        let len = u32::from_be_bytes(head);
        if len as usize > MAX_REPLY {
            return Err(ControlError::TooLarge(len));
        }
        let mut body = vec![0u8; len as usize];
        self.read_all(&mut body, false)?;
        Ok(body)
    }

    /// Fills `buf`. `first`: nothing of this reply has come yet, so an
    /// end of stream means the daemon refused the request.
    fn read_all(&mut self, buf: &mut [u8], first: bool) -> Result<(), ControlError> {
        let mut got = 0;
        while got < buf.len() {
            match self.stream.read(&mut buf[got..]) {
                Ok(0) if first && got == 0 => return Err(ControlError::Closed),
                Ok(0) => return Err(ControlError::Truncated),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, first && got == 0)),
            }
        }
        Ok(())
    }

    fn io_error(&self, e: io::Error, before_reply: bool) -> ControlError {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => ControlError::TimedOut(self.timeout),
            // A peer that closes with our bytes unread resets instead.
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe if before_reply => {
                ControlError::Closed
            }
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => ControlError::Truncated,
            _ => ControlError::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::time::Instant;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("wackamole-ctlc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// A daemon that serves one connection with `f`, in a thread.
    fn serve_one(path: &Path, f: impl FnOnce(UnixStream) + Send + 'static) {
        let l = UnixListener::bind(path).unwrap();
        std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            f(s);
        });
    }

    #[test]
    fn no_socket_is_a_connect_error() {
        let d = scratch("none");
        let e = Client::connect(&d.join("nope"), Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(matches!(e, ControlError::Connect(_)));
        assert_eq!(e.to_string(), "cannot connect: No such file or directory");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_silent_daemon_times_out() {
        let d = scratch("silent");
        let sock = d.join("s");
        serve_one(&sock, |s| {
            std::thread::sleep(Duration::from_secs(2));
            drop(s);
        });
        let mut c = Client::connect(&sock, Duration::from_millis(200)).unwrap();
        let t = Instant::now();
        let e = c.request(Request::GetState).err().unwrap();
        assert!(matches!(e, ControlError::TimedOut(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_closed_connection_before_and_during_a_reply() {
        let d = scratch("closed");
        let sock = d.join("s");
        serve_one(&sock, |mut s| {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
        });
        let mut c = Client::connect(&sock, Duration::from_secs(2)).unwrap();
        assert!(matches!(
            c.request(Request::StatusJson),
            Err(ControlError::Closed)
        ));
        let _ = std::fs::remove_file(&sock);
        serve_one(&sock, |mut s| {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            s.write_all(&[0, 0, 0, 9, b'{']).unwrap();
        });
        let mut c = Client::connect(&sock, Duration::from_secs(2)).unwrap();
        assert!(matches!(
            c.request(Request::StatusJson),
            Err(ControlError::Truncated)
        ));
        let _ = std::fs::remove_file(&sock);
        serve_one(&sock, |mut s| {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            s.write_all(&[0x7f, 0, 0, 0]).unwrap();
        });
        let mut c = Client::connect(&sock, Duration::from_secs(2)).unwrap();
        assert!(matches!(
            c.request(Request::GetState),
            Err(ControlError::TooLarge(_))
        ));
        let _ = std::fs::remove_dir_all(d);
    }
}
