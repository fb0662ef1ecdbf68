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
use std::fmt;
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

/// Why a file (a module or a `RunScript` program) must not be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotAFile {
        path: PathBuf,
    },
    /// Its group or everyone may write it.
    Writable {
        path: PathBuf,
        mode: u32,
    },
    /// It belongs to a user other than root and the daemon's.
    ForeignOwner {
        path: PathBuf,
        uid: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAFile { path } => write!(f, "{} is not a regular file", path.display()),
            Refusal::Writable { path, mode } => write!(
                f,
                "refusing {}: it is writable by {} (mode {:o}); chmod go-w it",
                path.display(),
                if mode & 0o002 != 0 {
                    "everyone"
                } else {
                    "its group"
                },
                mode & 0o7777
            ),
            Refusal::ForeignOwner { path, uid } => write!(
                f,
                "refusing {}: it belongs to uid {uid}, not to root",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Why a module file must not be loaded, if it must not: it is not a
/// regular file, or someone other than root and `euid` could change it
/// (its group or others may write it, or it belongs to another user).
pub fn refusal(path: &Path, meta: &fs::Metadata, euid: u32) -> Option<Refusal> {
    if !meta.is_file() {
        return Some(Refusal::NotAFile {
            path: path.to_path_buf(),
        });
    }
    refusal_of_mode(path, meta.mode(), meta.uid(), euid)
}

fn refusal_of_mode(path: &Path, mode: u32, uid: u32, euid: u32) -> Option<Refusal> {
    let path = path.to_path_buf();
    if mode & 0o022 != 0 {
        Some(Refusal::Writable { path, mode })
    } else if uid != 0 && uid != euid {
        Some(Refusal::ForeignOwner { path, uid })
    } else {
        None
    }
}

/// Why the runner could not call the function (its failure line).
#[derive(Debug)]
pub enum RunnerError {
    /// Not `PATH SYMBOL HEXARGS`.
    Usage,
    SymbolNotUtf8,
    MalformedArguments,
    /// Neither `PATH` nor `PATH.so` exists.
    NoModule {
        path: OsString,
    },
    /// The module's metadata cannot be read.
    Unreadable {
        path: PathBuf,
        source: io::Error,
    },
    Refused(Refusal),
    /// `dlopen` failed on the last candidate tried.
    CannotLoad {
        path: PathBuf,
        message: String,
    },
    NoFunction {
        path: PathBuf,
        symbol: String,
        message: String,
    },
}

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunnerError::Usage => write!(f, "usage: {FLAG} PATH SYMBOL HEXARGS"),
            RunnerError::SymbolNotUtf8 => write!(f, "the symbol is not UTF-8"),
            RunnerError::MalformedArguments => write!(f, "malformed arguments"),
            RunnerError::NoModule { path } => {
                let p = path.to_string_lossy();
                write!(f, "no module {p} (nor {p}.so)")
            }
            RunnerError::Unreadable { path, source } => write!(f, "{}: {source}", path.display()),
            RunnerError::Refused(r) => r.fmt(f),
            RunnerError::CannotLoad { path, message } => {
                write!(f, "cannot load {}: {message}", path.display())
            }
            RunnerError::NoFunction {
                path,
                symbol,
                message,
            } => write!(f, "{} has no function {symbol}: {message}", path.display()),
        }
    }
}

impl std::error::Error for RunnerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunnerError::Unreadable { source, .. } => Some(source),
            RunnerError::Refused(r) => Some(r),
            _ => None,
        }
    }
}

fn call(args: &[OsString]) -> Result<i32, RunnerError> {
    let [path, symbol, hex] = args else {
        return Err(RunnerError::Usage);
    };
    let symbol = symbol.to_str().ok_or(RunnerError::SymbolNotUtf8)?;
    let a = hex
        .to_str()
        .and_then(CallArgs::from_hex)
        .ok_or(RunnerError::MalformedArguments)?;
    let euid = nix::unistd::geteuid().as_raw();
    let mut with_so = path.clone();
    with_so.push(".so");
    // Both candidates are tried only when the first is missing or will
    // not load: the error of the last one tried is the one reported.
    let mut last = RunnerError::NoModule { path: path.clone() };
    for candidate in [PathBuf::from(path), PathBuf::from(with_so)] {
        let meta = match fs::metadata(&candidate) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                last = RunnerError::NoModule { path: path.clone() };
                continue;
            }
            Err(source) => {
                return Err(RunnerError::Unreadable {
                    path: candidate,
                    source,
                })
            }
        };
        if let Some(why) = refusal(&candidate, &meta, euid) {
            return Err(RunnerError::Refused(why));
        }
        match call_hook_function(&candidate, symbol, a.master, &a.extras, a.owner) {
            Ok(ret) => return Ok(ret),
            Err(DlError::Open(message)) => {
                last = RunnerError::CannotLoad {
                    path: candidate,
                    message,
                }
            }
            Err(DlError::Symbol(message)) => {
                return Err(RunnerError::NoFunction {
                    path: candidate,
                    symbol: symbol.to_string(),
                    message,
                })
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
            refusal_of_mode(p, 0o100757, 0, 0).unwrap().to_string(),
            "refusing /m/x.so: it is writable by everyone (mode 757); chmod go-w it"
        );
        assert_eq!(
            refusal_of_mode(p, 0o100775, 0, 0).unwrap().to_string(),
            "refusing /m/x.so: it is writable by its group (mode 775); chmod go-w it"
        );
        assert_eq!(
            refusal_of_mode(p, 0o100755, 1000, 0).unwrap().to_string(),
            "refusing /m/x.so: it belongs to uid 1000, not to root"
        );
    }

    #[test]
    fn bad_command_lines_fail_cleanly() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(call(&os(&["a"]))
            .unwrap_err()
            .to_string()
            .starts_with("usage:"));
        assert_eq!(
            call(&os(&["/nonexistent/m", "f", "zz"]))
                .unwrap_err()
                .to_string(),
            "malformed arguments"
        );
        let zero = CallArgs::ZERO.to_hex();
        assert_eq!(
            call(&os(&["/nonexistent/m", "f", &zero]))
                .unwrap_err()
                .to_string(),
            "no module /nonexistent/m (nor /nonexistent/m.so)"
        );
    }
}
