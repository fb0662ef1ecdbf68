//! Process-level syscalls of the hooks: calling a `RunDynamic` function
//! of a shared object (`dlopen`, in the hook runner child only), killing
//! a hook's process group, and clearing the blocked-signal mask a hook
//! would otherwise inherit from the daemon.

use std::ffi::{CStr, CString};
use std::io;
use std::mem;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

use crate::hooks::record::{CInterface, MAX_EXTRAS};

/// Why a `RunDynamic` function could not be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlError {
    /// `dlopen` failed: its `dlerror` text.
    Open(String),
    /// The module loaded but has no such symbol.
    Symbol(String),
}

/// `int func(struct interface, struct interface *, struct interface)`.
/// The extras pointer is `*mut`: C's prototype lets the function write
/// to the array, so it gets a copy it may change.
type HookFn = extern "C" fn(CInterface, *mut CInterface, CInterface) -> libc::c_int;

fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string that stays
    // valid until the next dl* call of this thread; it is copied at once.
    let p = unsafe { libc::dlerror() };
    if p.is_null() {
        return "unknown error".into();
    }
    // SAFETY: p is non-null and NUL-terminated (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Loads the shared object at `path` (`RTLD_NOW | RTLD_GLOBAL`, as C
/// wackamole did), looks `symbol` up and calls it the way 2.1.4 did:
/// `master` and `owner` by value, a pointer to a copy of the 30 extras.
/// Returns what the function returns. The module's code runs in this
/// process and may crash it: only the hook runner child calls this. The
/// module is never unloaded (the child exits right after).
pub fn call_hook_function(
    path: &Path,
    symbol: &str,
    master: CInterface,
    extras: &[CInterface; MAX_EXTRAS],
    owner: CInterface,
) -> Result<libc::c_int, DlError> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| DlError::Open("NUL in the module path".into()))?;
    let csym =
        CString::new(symbol).map_err(|_| DlError::Symbol("NUL in the symbol name".into()))?;
    // SAFETY: cpath is a valid NUL-terminated string for the call. The
    // module's initialisers run here; that is the point of loading it.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        return Err(DlError::Open(dl_error()));
    }
    // SAFETY: handle came from a successful dlopen and is never closed;
    // csym is a valid NUL-terminated string.
    let sym = unsafe { libc::dlsym(handle, csym.as_ptr()) };
    if sym.is_null() {
        return Err(DlError::Symbol(dl_error()));
    }
    // SAFETY: the configuration says `symbol` is a function with C
    // wackamole's hook prototype (the contract of RunDynamic since
    // 2.1.4); a module that lies can only crash this sacrificial child.
    let func = unsafe { mem::transmute::<*mut libc::c_void, HookFn>(sym) };
    let mut extras = *extras;
    Ok(func(master, extras.as_mut_ptr(), owner))
}

/// Sends `signal` to every process of the process group `pgid` (a hook
/// child and whatever it started).
pub fn kill_process_group(pgid: u32, signal: Signal) -> io::Result<()> {
    // pgid > 1 rules out "every process" (-1 to kill(2)) and our own
    // group (0).
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|&p| p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process group"))?;
    Ok(signal::killpg(Pid::from_raw(pgid), signal)?)
}

/// Makes `cmd`'s child start with no signal blocked. The daemon blocks
/// TERM, INT, QUIT and HUP to read them from a signalfd, and a blocked
/// mask survives exec: without this a hook, or a service a hook starts,
/// could not be stopped with SIGTERM.
pub fn unblock_signals_in_child(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec; it only calls
    // sigemptyset and sigprocmask (through nix), which are
    // async-signal-safe, on a local set, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
            Ok(())
        });
    }
}
