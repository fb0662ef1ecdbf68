//! Telling systemd the truth (`Type=notify`): `READY=1` once the loop
//! runs, `STATUS=` lines as the node's state changes, `STOPPING=1` at
//! the end: datagrams to `$NOTIFY_SOCKET`, no library needed.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

#[derive(Debug)]
pub struct SdNotify {
    sock: UnixDatagram,
    addr: SocketAddr,
}

impl SdNotify {
    /// From `$NOTIFY_SOCKET`, when systemd set it.
    pub fn from_env() -> Option<SdNotify> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        SdNotify::to(&path.to_string_lossy())
    }

    /// A path, or `@name` for the abstract namespace.
    pub fn to(path: &str) -> Option<SdNotify> {
        let addr = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()).ok()?,
            None => SocketAddr::from_pathname(path).ok()?,
        };
        Some(SdNotify {
            sock: UnixDatagram::unbound().ok()?,
            addr,
        })
    }

    /// Best effort: systemd going away must not stop the daemon.
    pub fn send(&self, msg: &str) {
        let _ = self.sock.send_to_addr(msg.as_bytes(), &self.addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_reach_the_socket() {
        let dir = std::env::temp_dir().join(format!("wackamole-sd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = SdNotify::to(path.to_str().unwrap()).unwrap();
        n.send("READY=1\nSTATUS=RUN, holding 2 of 6 VIFs");
        let mut buf = [0u8; 128];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=RUN, holding 2 of 6 VIFs");
        let abs = format!("@wackamole-test-{}", std::process::id());
        let rx2 =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&abs.as_bytes()[1..]).unwrap())
                .unwrap();
        SdNotify::to(&abs).unwrap().send("STOPPING=1");
        let len = rx2.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"STOPPING=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
