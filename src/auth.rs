//! An authenticated group (opt-in, `SharedSecretFile`): every message a
//! node sends carries an HMAC-SHA-256 tag over its type, the view's group
//! id, the sender's name in the group and the body; a node with the key
//! drops whatever does not verify, so a member without the key can join
//! the group (and cause view changes) but never reaches the engine: it is
//! a silent member, and the state exchange closes without it.
//!
//! On the wire an authenticated message has its type plus
//! [`SEALED_TYPE`] and the tag after the body: a node without the key,
//! and a C node, sees a type it does not know and ignores it (a C node
//! would misread a tag after an ARPCACHE's records).
//!
//! Owns: the key file's rules (a regular file, owned by root, no access
//! for group or others; one or two keys, one per line, each at least
//! [`MIN_KEY_LEN`] bytes; the first signs, both verify, so a key can be
//! rolled node by node), sealing and opening. Pure but for
//! [`Keys::load`]. Keys never appear in a log, the status or `-t`.

use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// Bytes of the tag after a sealed body.
pub const TAG_LEN: usize = 32;
/// Added to a message's type when it is sealed.
pub const SEALED_TYPE: i16 = 0x4000;
/// A key file larger than this is no key file.
const MAX_FILE: u64 = 64 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// The group's keys: the first signs, every one verifies.
#[derive(Clone)]
pub struct Keys {
    keys: Vec<Vec<u8>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the bytes.
        write!(f, "Keys({} key(s))", self.keys.len())
    }
}

/// Why a key file cannot be used.
#[derive(Debug)]
pub enum KeyError {
    Read {
        path: PathBuf,
        source: io::Error,
    },
    NotRegular {
        path: PathBuf,
    },
    NotRoot {
        path: PathBuf,
        uid: u32,
    },
    Open {
        path: PathBuf,
        mode: u32,
    },
    TooLarge {
        path: PathBuf,
    },
    NoKey {
        path: PathBuf,
    },
    TooMany {
        path: PathBuf,
        count: usize,
    },
    TooShort {
        path: PathBuf,
        line: usize,
        len: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Read { path, source } => {
                write!(f, "{}: cannot read the shared secret: {source}", path.display())
            }
            KeyError::NotRegular { path } => {
                write!(f, "{}: the shared secret must be a regular file", path.display())
            }
            KeyError::NotRoot { path, uid } => write!(
                f,
                "{}: the shared secret must be owned by root, not uid {uid}",
                path.display()
            ),
            KeyError::Open { path, mode } => write!(
                f,
                "{}: the shared secret must not be readable or writable by group or others (mode {mode:04o}; chmod 600 it)",
                path.display()
            ),
            KeyError::TooLarge { path } => {
                write!(f, "{}: too large for a shared secret", path.display())
            }
            KeyError::NoKey { path } => write!(
                f,
                "{}: no key in the shared secret file (one or two lines expected)",
                path.display()
            ),
            KeyError::TooMany { path, count } => write!(
                f,
                "{}: {count} keys in the shared secret file; at most 2 (the one that signs, then the one being rolled out or in)",
                path.display()
            ),
            KeyError::TooShort { path, line, len } => write!(
                f,
                "{}:{line}: a key of {len} bytes; at least {MIN_KEY_LEN} expected",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a message did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsealed {
    /// Sent without a tag.
    Plain,
    /// A tag no key verifies (or too short a body to hold one).
    BadTag,
}

impl Keys {
    /// The keys of a key file's text: non-empty lines (a trailing `\r`
    /// is not part of a key).
    pub fn parse(text: &[u8], path: &Path) -> Result<Keys, KeyError> {
        let mut keys = Vec::new();
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            if line.len() < MIN_KEY_LEN {
                return Err(KeyError::TooShort {
                    path: path.to_path_buf(),
                    line: n + 1,
                    len: line.len(),
                });
            }
            keys.push(line.to_vec());
        }
        match keys.len() {
            0 => Err(KeyError::NoKey {
                path: path.to_path_buf(),
            }),
            1 | 2 => Ok(Keys { keys }),
            count => Err(KeyError::TooMany {
                path: path.to_path_buf(),
                count,
            }),
        }
    }

    /// Reads a key file, refusing one that anybody but root could read
    /// or change. The checks are made on the opened file, not the name:
    /// a symbolic link is followed (a key kept elsewhere, a mounted
    /// secret), and what it leads to must pass them, so a link cannot
    /// bring in a file others may write. Opened without blocking: a
    /// FIFO is refused, not waited on.
    pub fn load(path: &Path) -> Result<Keys, KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(err)?;
        let meta = f.metadata().map_err(err)?;
        let p = || path.to_path_buf();
        if !meta.is_file() {
            return Err(KeyError::NotRegular { path: p() });
        }
        if meta.uid() != 0 {
            return Err(KeyError::NotRoot {
                path: p(),
                uid: meta.uid(),
            });
        }
        if meta.mode() & 0o077 != 0 {
            return Err(KeyError::Open {
                path: p(),
                mode: meta.mode() & 0o7777,
            });
        }
        if meta.len() > MAX_FILE {
            return Err(KeyError::TooLarge { path: p() });
        }
        let mut text = Vec::new();
        f.read_to_end(&mut text).map_err(err)?;
        Keys::parse(&text, path)
    }

    pub fn count(&self) -> usize {
        self.keys.len()
    }

    fn mac(
        key: &[u8],
        mess_type: i16,
        group_id: [u32; 3],
        sender: &str,
        body: &[u8],
    ) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
        m.update(&mess_type.to_be_bytes());
        for w in group_id {
            m.update(&w.to_be_bytes());
        }
        // Length-prefixed, so that no name/body split is ambiguous.
        m.update(&(sender.len() as u32).to_be_bytes());
        m.update(sender.as_bytes());
        m.update(body);
        m
    }

    /// A message of type `mess_type` from `sender` in view `group_id`,
    /// sealed: its wire type and body.
    pub fn seal(
        &self,
        mess_type: i16,
        group_id: [u32; 3],
        sender: &str,
        body: &[u8],
    ) -> (i16, Vec<u8>) {
        let tag = Self::mac(&self.keys[0], mess_type, group_id, sender, body).finalize();
        let mut out = Vec::with_capacity(body.len() + TAG_LEN);
        out.extend_from_slice(body);
        out.extend_from_slice(&tag.into_bytes());
        (mess_type.wrapping_add(SEALED_TYPE), out)
    }

    /// Opens a delivered message: its own type and body, if a key
    /// verifies its tag (in constant time).
    pub fn open<'a>(
        &self,
        wire_type: i16,
        group_id: [u32; 3],
        sender: &str,
        body: &'a [u8],
    ) -> Result<(i16, &'a [u8]), Unsealed> {
        if !is_sealed(wire_type) {
            return Err(Unsealed::Plain);
        }
        let mess_type = wire_type.wrapping_sub(SEALED_TYPE);
        let Some(split) = body.len().checked_sub(TAG_LEN) else {
            return Err(Unsealed::BadTag);
        };
        let (inner, tag) = body.split_at(split);
        for key in &self.keys {
            if Self::mac(key, mess_type, group_id, sender, inner)
                .verify_slice(tag)
                .is_ok()
            {
                return Ok((mess_type, inner));
            }
        }
        Err(Unsealed::BadTag)
    }
}

/// A type only sealed messages have.
pub fn is_sealed(wire_type: i16) -> bool {
    (SEALED_TYPE..SEALED_TYPE + 0x1000).contains(&wire_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &[u8] = b"0123456789abcdef-first";
    const K2: &[u8] = b"fedcba9876543210-second";

    fn keys(lines: &[&[u8]]) -> Keys {
        Keys::parse(&lines.join(&b'\n'), Path::new("k")).unwrap()
    }

    #[test]
    fn sealed_messages_open_only_with_a_key_and_unchanged() {
        let k = keys(&[K1]);
        let id = [1, 2, 3];
        let (t, b) = k.seal(1, id, "#a#d1", b"state body");
        assert_eq!(t, 1 + SEALED_TYPE);
        assert_eq!(b.len(), 10 + TAG_LEN);
        assert_eq!(k.open(t, id, "#a#d1", &b), Ok((1, &b"state body"[..])));
        // Anything changed: another view, sender, type, body, tag.
        assert_eq!(k.open(t, [1, 2, 4], "#a#d1", &b), Err(Unsealed::BadTag));
        assert_eq!(k.open(t, id, "#b#d1", &b), Err(Unsealed::BadTag));
        assert_eq!(k.open(t + 1, id, "#a#d1", &b), Err(Unsealed::BadTag));
        let mut bad = b.clone();
        bad[0] ^= 1;
        assert_eq!(k.open(t, id, "#a#d1", &bad), Err(Unsealed::BadTag));
        let last = bad.len() - 1;
        bad[0] ^= 1;
        bad[last] ^= 1;
        assert_eq!(k.open(t, id, "#a#d1", &bad), Err(Unsealed::BadTag));
        assert_eq!(k.open(t, id, "#a#d1", &b[..5]), Err(Unsealed::BadTag));
        // Plain messages, and another group's key.
        assert_eq!(k.open(1, id, "#a#d1", b"x"), Err(Unsealed::Plain));
        let other = keys(&[K2]);
        assert_eq!(other.open(t, id, "#a#d1", &b), Err(Unsealed::BadTag));
    }

    #[test]
    fn a_second_key_verifies_while_a_key_is_rolled() {
        let old = keys(&[K1]);
        let rolling = keys(&[K2, K1]);
        let new = keys(&[K2]);
        let id = [9, 9, 9];
        let (t, b) = old.seal(3, id, "#a#d1", b"x");
        assert!(rolling.open(t, id, "#a#d1", &b).is_ok());
        let (t, b) = rolling.seal(3, id, "#b#d1", b"y");
        assert!(new.open(t, id, "#b#d1", &b).is_ok());
        assert!(old.open(t, id, "#b#d1", &b).is_err());
    }

    #[test]
    fn key_files_are_read_with_their_rules() {
        let p = Path::new("/etc/wackamole.key");
        assert_eq!(keys(&[K1, b""]).count(), 1);
        assert_eq!(keys(&[K1, K2]).count(), 2);
        assert_eq!(
            Keys::parse(b"0123456789abcdef\r\n", p).unwrap().keys[0].len(),
            16
        );
        let short = Keys::parse(b"0123456789abcdef\nshort\n", p).unwrap_err();
        assert_eq!(
            short.to_string(),
            "/etc/wackamole.key:2: a key of 5 bytes; at least 16 expected"
        );
        assert!(matches!(
            Keys::parse(b"\n\n", p),
            Err(KeyError::NoKey { .. })
        ));
        let three = [K1, K2, K1].join(&b'\n');
        assert!(matches!(
            Keys::parse(&three, p),
            Err(KeyError::TooMany { count: 3, .. })
        ));
        // The key never shows.
        assert_eq!(format!("{:?}", keys(&[K1])), "Keys(1 key(s))");
    }

    #[test]
    fn key_files_anybody_else_can_read_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wkm-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        std::fs::write(&f, [K1, b"\n"].concat()).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Keys::load(&f).unwrap_err();
        let root = nix::unistd::geteuid().is_root();
        if root {
            assert!(matches!(e, KeyError::Open { mode: 0o640, .. }), "{e}");
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(Keys::load(&f).unwrap().count(), 1);
        } else {
            assert!(matches!(e, KeyError::NotRoot { .. }), "{e}");
        }
        assert!(matches!(
            Keys::load(&dir),
            Err(KeyError::NotRegular { .. } | KeyError::NotRoot { .. })
        ));
        assert!(matches!(
            Keys::load(&dir.join("none")),
            Err(KeyError::Read { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_link_is_judged_by_what_it_leads_to_and_a_fifo_does_not_block() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = std::env::temp_dir().join(format!("wkm-keylinks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
        // A link to a file everybody may write.
        let open = dir.join("open");
        std::fs::write(&open, [K1, b"\n"].concat()).unwrap();
        mode(&open, 0o666).unwrap();
        let link = dir.join("link");
        symlink(&open, &link).unwrap();
        let e = Keys::load(&link).unwrap_err();
        assert!(
            matches!(e, KeyError::Open { .. } | KeyError::NotRoot { .. }),
            "{e}"
        );
        if nix::unistd::geteuid().is_root() {
            assert!(matches!(e, KeyError::Open { mode: 0o666, .. }), "{e}");
            // A link to a key file of root's, 0600, is a key file.
            mode(&open, 0o600).unwrap();
            assert_eq!(Keys::load(&link).unwrap().count(), 1);
            // Another owner behind a link is refused as without one.
            std::os::unix::fs::lchown(&open, Some(65534), None).unwrap();
            assert!(matches!(
                Keys::load(&link),
                Err(KeyError::NotRoot { uid: 65534, .. })
            ));
        }
        // A FIFO (nobody writing to it) is refused at once.
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || tx.send(Keys::load(&f).map(|k| k.count())));
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("loading a FIFO blocked");
        assert!(matches!(got, Err(KeyError::NotRegular { .. })), "{got:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
