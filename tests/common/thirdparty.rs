//! The reference programs (Spread 5.0.1 and C wackamole 2.1.4) for the
//! real-engine tests: `../shared/thirdparty/build.sh PREFIX` builds them
//! from the original archives; the project never contains them.
//!
//! [`prefix`] finds the build, in this order:
//! - `WACKAMOLE_THIRDPARTY=PREFIX`: an existing build (it must be one);
//! - `../shared/thirdparty/build.sh` beside the project: built once into
//!   `<target dir>/thirdparty` (build.sh is idempotent: a build with a
//!   matching stamp is left alone, so after `.ci/run` built it this only
//!   checks). A `OnceLock` builds it once per test binary, a file lock
//!   once for all test binaries running at the same time;
//! - neither: `None`, and the test prints SKIPPED and passes — unless
//!   `WACKAMOLE_REQUIRE_THIRDPARTY=1` (`make test-real`), which makes a
//!   missing build, or a missing root, a failure.

#![allow(dead_code)]

use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming an existing build.
pub const ENV_PREFIX: &str = "WACKAMOLE_THIRDPARTY";
/// Set to 1, nothing may skip for want of the reference programs.
pub const ENV_REQUIRE: &str = "WACKAMOLE_REQUIRE_THIRDPARTY";

/// Whether the real-engine tests must run (`make test-real`).
pub fn required() -> bool {
    std::env::var(ENV_REQUIRE).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Says why a real-engine test does not run; a failure when they are
/// [`required`].
pub fn skip(why: &str) {
    assert!(!required(), "{ENV_REQUIRE} is set, but {why}");
    eprintln!("SKIPPED: {why}");
}

/// The directory the test binaries are built in (`target/debug/deps`'s
/// grandparent: `target`, or `$CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("a test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The build script beside the project, if there is one.
pub fn build_script() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/thirdparty/build.sh");
    p.exists().then_some(p)
}

/// The prefix of a complete build (`spread/sbin/spread`,
/// `wackamole-c/wackamole`, ...), or `None` after printing SKIPPED.
pub fn prefix() -> Option<PathBuf> {
    static PREFIX: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PREFIX.get_or_init(find_or_build) {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            skip(why);
            None
        }
    }
}

/// Real-engine tests run as root (namespaces, Spread's own user
/// switch) with a build: the prefix, or `None` after printing SKIPPED.
pub fn real_prefix() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        skip("needs root to create network namespaces");
        return None;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        skip("needs iproute2 ('ip')");
        return None;
    }
    prefix()
}

/// `PREFIX/spread/sbin/spread`.
pub fn spread_daemon(prefix: &Path) -> PathBuf {
    prefix.join("spread/sbin/spread")
}

/// `PREFIX/wackamole-c/wackamole`.
pub fn c_wackamole(prefix: &Path) -> PathBuf {
    prefix.join("wackamole-c/wackamole")
}

/// `PREFIX/wackamole-c/wackatrl`.
pub fn c_wackatrl(prefix: &Path) -> PathBuf {
    prefix.join("wackamole-c/wackatrl")
}

fn complete(prefix: &Path) -> bool {
    spread_daemon(prefix).exists() && c_wackamole(prefix).exists()
}

fn find_or_build() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(ENV_PREFIX).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        // Named explicitly: a wrong one is a mistake, not a reason to skip.
        assert!(
            complete(&p),
            "{ENV_PREFIX}={} holds no build of ../shared/thirdparty/build.sh \
             (spread/sbin/spread, wackamole-c/wackamole)",
            p.display()
        );
        return Ok(p);
    }
    let Some(script) = build_script() else {
        return Err(format!(
            "no reference programs: neither {ENV_PREFIX} nor ../shared/thirdparty/build.sh"
        ));
    };
    let prefix = target_dir().join("thirdparty");
    std::fs::create_dir_all(target_dir()).unwrap();
    // Other test binaries may be building it right now: one at a time.
    let lock = std::fs::File::create(target_dir().join("thirdparty.lock")).unwrap();
    // SAFETY: flock on a descriptor this function owns; released when
    // the file closes.
    let r = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(r, 0, "flock: {}", std::io::Error::last_os_error());
    // One job: Spread's makefile can link the daemon before its own
    // utility library is complete under `make -j` (seen as "undefined
    // reference to Alarm" on a loaded machine).
    let out = Command::new("bash")
        .arg(&script)
        .arg(&prefix)
        .env("JOBS", "1")
        .output()
        .expect("run build.sh");
    drop(lock);
    assert!(
        out.status.success() && complete(&prefix),
        "building the reference programs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(prefix)
}
