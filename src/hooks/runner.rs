//! The hook runner: the child side of `RunDynamic module:func`.
//!
//! The daemon never loads a module itself. For each call it starts its
//! own binary again (`/proc/self/exe`) as
//!
//! ```text
//! wackamole --run-hook-so PATH SYMBOL HEXARGS
//! ```
//!
//! a mode for the daemon's use only (not in `-h`): `PATH` is
//! `ModuleDir/module`, `SYMBOL` the function, `HEXARGS` the master, 30
//! extras and owner records in hex ([`CallArgs::to_hex`]). The runner
//! loads `PATH`, else `PATH.so` (as C did), refusing a file anyone but
//! root (or the daemon's own user) could have written, calls the
//! function and exits with its return value clamped to 0–255. When it
//! cannot call the function it prints one line starting with
//! [`FAILURE_PREFIX`] on stderr and exits with [`FAILED_STATUS`].

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::record::CallArgs;
use crate::sys::process::{call_hook_function, DlError};

/// The hidden first argument that selects this mode.
pub const FLAG: &str = "--run-hook-so";

/// The exit status of a runner that could not call the function.
pub const FAILED_STATUS: u8 = 127;

/// How the runner's failure line starts.
pub const FAILURE_PREFIX: &str = "wackamole hook runner: ";

/// For the very top of `main`: `Some(status)` when this process was
/// started as a hook runner (and has done its work), `None` otherwise.
pub fn main_if_runner() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != OsStr::new(FLAG) {
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match call(&args) {
        Ok(ret) => ExitCode::from(clamp_status(ret)),
        Err(msg) => {
            eprintln!("{FAILURE_PREFIX}{msg}");
            ExitCode::from(FAILED_STATUS)
        }
    })
}

/// A return value as an exit status: negative is 0, past 255 is 255.
pub fn clamp_status(ret: i32) -> u8 {
    ret.clamp(0, 255) as u8
}

/// Why a module file must not be loaded, if it must not: it is not a
/// regular file, or someone other than root and `euid` could change it
/// (its group or others may write it, or it belongs to another user).
pub fn refusal(path: &Path, meta: &fs::Metadata, euid: u32) -> Option<String> {
    if !meta.is_file() {
        return Some(format!("{} is not a regular file", path.display()));
    }
    refusal_of_mode(path, meta.mode(), meta.uid(), euid)
}

fn refusal_of_mode(path: &Path, mode: u32, uid: u32, euid: u32) -> Option<String> {
    if mode & 0o022 != 0 {
        Some(format!(
            "refusing {}: it is writable by {} (mode {:o}); chmod go-w it",
            path.display(),
            if mode & 0o002 != 0 {
                "everyone"
            } else {
                "its group"
            },
            mode & 0o7777
        ))
    } else if uid != 0 && uid != euid {
        Some(format!(
            "refusing {}: it belongs to uid {uid}, not to root",
            path.display()
        ))
    } else {
        None
    }
}

fn call(args: &[OsString]) -> Result<i32, String> {
    let [path, symbol, hex] = args else {
        return Err(format!("usage: {FLAG} PATH SYMBOL HEXARGS"));
    };
    let symbol = symbol
        .to_str()
        .ok_or_else(|| "the symbol is not UTF-8".to_string())?;
    let a = hex
        .to_str()
        .and_then(CallArgs::from_hex)
        .ok_or_else(|| "malformed arguments".to_string())?;
    let euid = nix::unistd::geteuid().as_raw();
    let mut with_so = path.clone();
    with_so.push(".so");
    let mut last = String::new();
    for candidate in [PathBuf::from(path), PathBuf::from(with_so)] {
        let meta = match fs::metadata(&candidate) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                last = format!(
                    "no module {} (nor {}.so)",
                    path.to_string_lossy(),
                    path.to_string_lossy()
                );
                continue;
            }
            Err(e) => return Err(format!("{}: {e}", candidate.display())),
        };
        if let Some(why) = refusal(&candidate, &meta, euid) {
            return Err(why);
        }
        match call_hook_function(&candidate, symbol, a.master, &a.extras, a.owner) {
            Ok(ret) => return Ok(ret),
            Err(DlError::Open(e)) => last = format!("cannot load {}: {e}", candidate.display()),
            Err(DlError::Symbol(e)) => {
                return Err(format!(
                    "{} has no function {symbol}: {e}",
                    candidate.display()
                ))
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_clamped() {
        assert_eq!(clamp_status(0), 0);
        assert_eq!(clamp_status(3), 3);
        assert_eq!(clamp_status(-1), 0);
        assert_eq!(clamp_status(255), 255);
        assert_eq!(clamp_status(256), 255);
        assert_eq!(clamp_status(i32::MIN), 0);
    }

    #[test]
    fn who_may_have_written_a_module() {
        let p = Path::new("/m/x.so");
        assert_eq!(refusal_of_mode(p, 0o100755, 0, 0), None);
        assert_eq!(refusal_of_mode(p, 0o100644, 0, 1000), None);
        // The daemon's own user: it could do anything the module does.
        assert_eq!(refusal_of_mode(p, 0o100755, 1000, 1000), None);
        assert_eq!(
            refusal_of_mode(p, 0o100757, 0, 0).unwrap(),
            "refusing /m/x.so: it is writable by everyone (mode 757); chmod go-w it"
        );
        assert_eq!(
            refusal_of_mode(p, 0o100775, 0, 0).unwrap(),
            "refusing /m/x.so: it is writable by its group (mode 775); chmod go-w it"
        );
        assert_eq!(
            refusal_of_mode(p, 0o100755, 1000, 0).unwrap(),
            "refusing /m/x.so: it belongs to uid 1000, not to root"
        );
    }

    #[test]
    fn bad_command_lines_fail_cleanly() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(call(&os(&["a"])).unwrap_err().starts_with("usage:"));
        assert_eq!(
            call(&os(&["/nonexistent/m", "f", "zz"])).unwrap_err(),
            "malformed arguments"
        );
        let zero = CallArgs::ZERO.to_hex();
        assert_eq!(
            call(&os(&["/nonexistent/m", "f", &zero])).unwrap_err(),
            "no module /nonexistent/m (nor /nonexistent/m.so)"
        );
    }
}
