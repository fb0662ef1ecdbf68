//! Scratch directories and file helpers for tests: a directory of the
//! test's own, emptied at the start and removed on drop (also when the
//! test fails), and reading or writing a file with a useful panic.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `$TMPDIR/NAME-PID`, removed (with whatever is in it) on drop. The
/// pid keeps concurrent runs of a test binary apart. Mode 0755 whatever
/// the umask: only its owner may write it, so wackamole accepts it for
/// its control socket (it refuses a directory others may write, such as
/// `/tmp` itself).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(p)
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }

    /// Writes `content` to `name` in the directory; returns its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let f = self.0.join(name);
        std::fs::write(&f, content).unwrap();
        f
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `text` to `path` with permission bits `mode` (0o755 for a
/// script a test runs).
pub fn write_file(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The file's text; a missing file fails the test with its name.
pub fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A program's output as text (lossy: a test wants to see it anyway).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
