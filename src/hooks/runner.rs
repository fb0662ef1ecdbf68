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

/// Why a file or directory must not be trusted: a hook's module or
/// program, the Perl interpreter and its library directories (and
/// whatever else a root daemon runs or reads code from: the check is
/// the crate's, not only the hooks').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What the path is to the daemon, as messages name it (`PerlPath`,
    /// `PerlUseLib`); empty for a hook's own module or program, whose
    /// path says it all.
    pub what: &'static str,
    pub path: PathBuf,
    pub why: Untrusted,
}

/// What is wrong with a [`Refusal`]'s path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// It is not the kind of file expected.
    NotA(Kind),
    /// Its group or everyone may write it.
    Writable { mode: u32 },
    /// It belongs to a user other than root and the daemon's.
    ForeignOwner { uid: u32 },
}

/// The kind of file a checked path must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    /// Whatever it is (a socket, say): only who may change it counts.
    Any,
}

impl Refusal {
    /// `WHAT PATH`, or `PATH` alone.
    fn subject(&self) -> String {
        if self.what.is_empty() {
            self.path.display().to_string()
        } else {
            format!("{} {}", self.what, self.path.display())
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = self.subject();
        match self.why {
            Untrusted::NotA(Kind::Directory) => write!(f, "{subject} is not a directory"),
            Untrusted::NotA(_) => write!(f, "{subject} is not a regular file"),
            Untrusted::Writable { mode } => write!(
                f,
                "refusing {subject}: it is writable by {} (mode {:o}); chmod go-w it",
                if mode & 0o002 != 0 {
                    "everyone"
                } else {
                    "its group"
                },
                mode & 0o7777
            ),
            Untrusted::ForeignOwner { uid } => write!(
                f,
                "refusing {subject}: it belongs to uid {uid}, not to root"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Why a module file (or a `RunScript` program) must not be run, if it
/// must not: it is not a regular file, or someone other than root and
/// `euid` could change it.
pub fn refusal(path: &Path, meta: &fs::Metadata, euid: u32) -> Option<Refusal> {
    refusal_of("", Kind::File, path, meta, euid)
}

/// Why `path` (whose metadata is `meta`), which the messages call
/// `what`, must not be trusted, if it must not: it is not of `kind`,
/// or someone other than root and `euid` could change it (its group or
/// others may write it, or it belongs to another user). `meta` follows
/// symbolic links (`fs::metadata`): what counts is the file used.
pub(crate) fn refusal_of(
    what: &'static str,
    kind: Kind,
    path: &Path,
    meta: &fs::Metadata,
    euid: u32,
) -> Option<Refusal> {
    let is_kind = match kind {
        Kind::File => meta.is_file(),
        Kind::Directory => meta.is_dir(),
        Kind::Any => true,
    };
    if !is_kind {
        return Some(Refusal {
            what,
            path: path.to_path_buf(),
            why: Untrusted::NotA(kind),
        });
    }
    refusal_of_mode(what, path, meta.mode(), meta.uid(), euid)
}

/// The owner and mode part of [`refusal_of`], on bare numbers.
pub(crate) fn refusal_of_mode(
    what: &'static str,
    path: &Path,
    mode: u32,
    uid: u32,
    euid: u32,
) -> Option<Refusal> {
    // The one rule of `trust`, in this module's words.
    let why = match crate::trust::changeable(uid, mode, euid)? {
        crate::trust::Changeable::Writable { .. } => Untrusted::Writable { mode },
        crate::trust::Changeable::Owner { uid, .. } => Untrusted::ForeignOwner { uid },
    };
    Some(Refusal {
        what,
        path: path.to_path_buf(),
        why,
    })
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
        let check = |mode, uid, euid| refusal_of_mode("", p, mode, uid, euid);
        assert_eq!(check(0o100755, 0, 0), None);
        assert_eq!(check(0o100644, 0, 1000), None);
        // The daemon's own user: it could do anything the module does.
        assert_eq!(check(0o100755, 1000, 1000), None);
        assert_eq!(
            check(0o100757, 0, 0).unwrap().to_string(),
            "refusing /m/x.so: it is writable by everyone (mode 757); chmod go-w it"
        );
        assert_eq!(
            check(0o100775, 0, 0).unwrap().to_string(),
            "refusing /m/x.so: it is writable by its group (mode 775); chmod go-w it"
        );
        assert_eq!(
            check(0o100755, 1000, 0).unwrap().to_string(),
            "refusing /m/x.so: it belongs to uid 1000, not to root"
        );
    }

    #[test]
    fn refusals_name_what_they_refuse() {
        let perl = Path::new("/opt/bin/perl");
        assert_eq!(
            refusal_of_mode("PerlPath", perl, 0o100775, 0, 0)
                .unwrap()
                .to_string(),
            "refusing PerlPath /opt/bin/perl: it is writable by its group (mode 775); chmod go-w it"
        );
        // A world-writable directory, sticky or not, is refused.
        let lib = Path::new("/tmp");
        assert_eq!(
            refusal_of_mode("PerlUseLib", lib, 0o41777, 0, 0)
                .unwrap()
                .to_string(),
            "refusing PerlUseLib /tmp: it is writable by everyone (mode 1777); chmod go-w it"
        );
        assert_eq!(
            refusal_of_mode("PerlUseLib", lib, 0o40755, 1000, 0)
                .unwrap()
                .why,
            Untrusted::ForeignOwner { uid: 1000 }
        );
    }

    #[test]
    fn the_kind_of_file_is_checked_first() {
        let root = fs::metadata("/").unwrap();
        let p = Path::new("/");
        assert_eq!(refusal_of("PerlUseLib", Kind::Directory, p, &root, 0), None);
        assert_eq!(refusal_of("", Kind::Any, p, &root, 0), None);
        assert_eq!(
            refusal_of("PerlPath", Kind::File, p, &root, 0)
                .unwrap()
                .to_string(),
            "PerlPath / is not a regular file"
        );
        assert_eq!(
            refusal(p, &root, 0).unwrap().to_string(),
            "/ is not a regular file"
        );
        let file = fs::metadata("/proc/self/exe").unwrap();
        assert_eq!(
            refusal_of("PerlUseLib", Kind::Directory, p, &file, 0)
                .unwrap()
                .why,
            Untrusted::NotA(Kind::Directory)
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
