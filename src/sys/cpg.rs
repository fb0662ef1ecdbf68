//! A thin binding of libcpg, Corosync's closed process groups (for
//! `group::corosync`): one handle, the calls the backend makes, and the
//! two callbacks, which copy what they are given into an inbox that
//! [`Cpg::dispatch_one`] hands back. Written here rather than taken from
//! the `rust-corosync` crate: the backend needs nine libcpg calls, the
//! crate links five libraries (and needs their five `-dev` packages) and
//! keeps its callbacks' state in globals.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::fmt;
use std::os::fd::{BorrowedFd, RawFd};

type Handle = u64;

const CPG_MAX_NAME_LENGTH: usize = 128;

#[repr(C)]
struct CpgName {
    length: u32,
    value: [c_char; CPG_MAX_NAME_LENGTH],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CpgAddress {
    nodeid: u32,
    pid: u32,
    reason: u32,
}

#[repr(C)]
struct RingId {
    nodeid: u32,
    seq: u64,
}

type DeliverFn = unsafe extern "C" fn(Handle, *const CpgName, u32, u32, *mut c_void, usize);
type ConfchgFn = unsafe extern "C" fn(
    Handle,
    *const CpgName,
    *const CpgAddress,
    usize,
    *const CpgAddress,
    usize,
    *const CpgAddress,
    usize,
);
type TotemFn = unsafe extern "C" fn(Handle, RingId, u32, *const u32);

/// `cpg_model_v1_data_t`.
#[repr(C)]
struct ModelV1 {
    model: c_int,
    deliver: Option<DeliverFn>,
    confchg: Option<ConfchgFn>,
    totem: Option<TotemFn>,
    flags: c_uint,
}

const CPG_MODEL_V1: c_int = 1;
const CPG_TYPE_AGREED: c_int = 2;
const CS_DISPATCH_ONE_NONBLOCKING: c_int = 4;
const CS_OK: c_int = 1;
const CS_ERR_TRY_AGAIN: c_int = 6;

#[link(name = "cpg")]
extern "C" {
    fn cpg_model_initialize(
        handle: *mut Handle,
        model: c_int,
        data: *mut ModelV1,
        context: *mut c_void,
    ) -> c_int;
    fn cpg_finalize(handle: Handle) -> c_int;
    fn cpg_fd_get(handle: Handle, fd: *mut c_int) -> c_int;
    fn cpg_context_get(handle: Handle, context: *mut *mut c_void) -> c_int;
    fn cpg_dispatch(handle: Handle, flags: c_int) -> c_int;
    fn cpg_join(handle: Handle, group: *const CpgName) -> c_int;
    fn cpg_leave(handle: Handle, group: *const CpgName) -> c_int;
    fn cpg_mcast_joined(
        handle: Handle,
        guarantee: c_int,
        iov: *const libc::iovec,
        iov_len: c_uint,
    ) -> c_int;
    fn cpg_local_get(handle: Handle, nodeid: *mut c_uint) -> c_int;
}

/// A Corosync error code (`cs_error_t`) and the call that returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsError {
    pub call: &'static str,
    pub code: i32,
}

impl CsError {
    /// Corosync asks to try again later (flow control, a sync running).
    pub fn is_try_again(&self) -> bool {
        self.code == CS_ERR_TRY_AGAIN
    }
}

impl fmt::Display for CsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            2 => "library error (is corosync running?)",
            3 => "no such version",
            4 => "could not initialize",
            5 => "timed out",
            6 => "busy, try again",
            7 => "invalid parameter",
            8 => "out of memory",
            9 => "bad handle (the connection to corosync is gone)",
            11 => "access denied",
            12 => "not in the group",
            14 => "already in the group",
            15 => "no space",
            20 => "message too large",
            _ => "error",
        };
        write!(f, "{}: {what} (cs_error_t {})", self.call, self.code)
    }
}

impl std::error::Error for CsError {}

fn check(call: &'static str, code: c_int) -> Result<(), CsError> {
    if code == CS_OK {
        Ok(())
    } else {
        Err(CsError { call, code })
    }
}

/// A member's address as a callback gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub nodeid: u32,
    pub pid: u32,
    /// `cpg_reason_t` (meaningful in the joined and left lists).
    pub reason: u32,
}

/// What one dispatched callback said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Deliver {
        nodeid: u32,
        pid: u32,
        msg: Vec<u8>,
    },
    Confchg {
        members: Vec<Address>,
        left: Vec<Address>,
        joined: Vec<Address>,
    },
}

/// An open libcpg handle. Dropping it finalizes (Corosync then drops
/// the process from its groups).
pub struct Cpg {
    handle: Handle,
    /// Where the callbacks put what they are given; owned (from
    /// `Box::into_raw`) and freed after the handle is finalized.
    inbox: *mut Vec<Callback>,
    fd: RawFd,
}

fn addresses(list: *const CpgAddress, n: usize) -> Vec<Address> {
    if list.is_null() || n == 0 {
        return Vec::new();
    }
    // SAFETY: libcpg passes `n` valid entries at `list` for the length of
    // the callback, which this copy does not outlive.
    let s = unsafe { std::slice::from_raw_parts(list, n) };
    s.iter()
        .map(|a| Address {
            nodeid: a.nodeid,
            pid: a.pid,
            reason: a.reason,
        })
        .collect()
}

/// The inbox of `handle` (its context), if set.
fn inbox(handle: Handle) -> Option<&'static mut Vec<Callback>> {
    let mut ctx: *mut c_void = std::ptr::null_mut();
    // SAFETY: `ctx` is a valid out pointer; libcpg only reads the handle.
    if unsafe { cpg_context_get(handle, &mut ctx) } != CS_OK || ctx.is_null() {
        return None;
    }
    // SAFETY: the context is the `Box<Vec<Callback>>` of the `Cpg` whose
    // `dispatch_one` is running this callback (callbacks run nowhere
    // else); nothing else touches the inbox until dispatch returns. The
    // 'static is never held past the callback.
    Some(unsafe { &mut *(ctx as *mut Vec<Callback>) })
}

unsafe extern "C" fn on_deliver(
    handle: Handle,
    _group: *const CpgName,
    nodeid: u32,
    pid: u32,
    msg: *mut c_void,
    len: usize,
) {
    let bytes = if msg.is_null() || len == 0 {
        Vec::new()
    } else {
        // SAFETY: libcpg passes `len` readable bytes at `msg` for the
        // length of the callback; they are copied out here.
        unsafe { std::slice::from_raw_parts(msg as *const u8, len) }.to_vec()
    };
    if let Some(inbox) = inbox(handle) {
        inbox.push(Callback::Deliver {
            nodeid,
            pid,
            msg: bytes,
        });
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn on_confchg(
    handle: Handle,
    _group: *const CpgName,
    members: *const CpgAddress,
    n_members: usize,
    left: *const CpgAddress,
    n_left: usize,
    joined: *const CpgAddress,
    n_joined: usize,
) {
    let cb = Callback::Confchg {
        members: addresses(members, n_members),
        left: addresses(left, n_left),
        joined: addresses(joined, n_joined),
    };
    if let Some(inbox) = inbox(handle) {
        inbox.push(cb);
    }
}

fn cpg_name(group: &str) -> Result<CpgName, CsError> {
    let bytes = group.as_bytes();
    if bytes.len() > CPG_MAX_NAME_LENGTH {
        return Err(CsError {
            call: "cpg_join",
            code: 7,
        });
    }
    let mut name = CpgName {
        length: bytes.len() as u32,
        value: [0; CPG_MAX_NAME_LENGTH],
    };
    for (d, s) in name.value.iter_mut().zip(bytes) {
        *d = *s as c_char;
    }
    Ok(name)
}

/// The longest group name CPG takes.
pub const MAX_GROUP_NAME: usize = CPG_MAX_NAME_LENGTH;

impl Cpg {
    /// Connects to the local corosync (a short blocking exchange over
    /// its local socket; fails at once when none runs).
    pub fn initialize() -> Result<Cpg, CsError> {
        let inbox = Box::into_raw(Box::new(Vec::<Callback>::new()));
        let mut data = ModelV1 {
            model: CPG_MODEL_V1,
            deliver: Some(on_deliver),
            confchg: Some(on_confchg),
            totem: None,
            flags: 0,
        };
        let mut handle: Handle = 0;
        // SAFETY: valid out pointer and model data (copied by libcpg);
        // the context is the inbox, which lives as long as the handle.
        let rc = unsafe {
            cpg_model_initialize(&mut handle, CPG_MODEL_V1, &mut data, inbox as *mut c_void)
        };
        if let Err(e) = check("cpg_initialize", rc) {
            // SAFETY: from Box::into_raw above; libcpg kept no handle.
            drop(unsafe { Box::from_raw(inbox) });
            return Err(e);
        }
        let mut cpg = Cpg {
            handle,
            inbox,
            fd: -1,
        };
        let mut fd: c_int = -1;
        // SAFETY: valid out pointer, a live handle.
        check("cpg_fd_get", unsafe { cpg_fd_get(handle, &mut fd) })?;
        cpg.fd = fd;
        Ok(cpg)
    }

    /// The socket to poll for deliveries (owned by libcpg).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The socket, borrowed (to ask who serves it).
    pub fn borrowed_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: libcpg keeps the fd open as long as the handle, which
        // outlives the borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// This node's Corosync node id.
    pub fn local_nodeid(&self) -> Result<u32, CsError> {
        let mut id: c_uint = 0;
        // SAFETY: valid out pointer, a live handle.
        check("cpg_local_get", unsafe {
            cpg_local_get(self.handle, &mut id)
        })?;
        Ok(id)
    }

    pub fn join(&self, group: &str) -> Result<(), CsError> {
        let name = cpg_name(group)?;
        // SAFETY: a live handle and a valid name, read during the call.
        check("cpg_join", unsafe { cpg_join(self.handle, &name) })
    }

    pub fn leave(&self, group: &str) -> Result<(), CsError> {
        let name = cpg_name(group)?;
        // SAFETY: as for join.
        check("cpg_leave", unsafe { cpg_leave(self.handle, &name) })
    }

    /// Multicasts `parts` (one message) in agreed order.
    pub fn mcast(&self, parts: &[&[u8]]) -> Result<(), CsError> {
        let iov: Vec<libc::iovec> = parts
            .iter()
            .map(|p| libc::iovec {
                iov_base: p.as_ptr() as *mut c_void,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: the iovecs point into `parts`, alive for the call;
        // libcpg only reads them.
        check("cpg_mcast_joined", unsafe {
            cpg_mcast_joined(
                self.handle,
                CPG_TYPE_AGREED,
                iov.as_ptr(),
                iov.len() as c_uint,
            )
        })
    }

    /// Runs waiting callbacks, without blocking, until one is a delivery
    /// or a configuration change: `Ok(None)` when none waits.
    pub fn dispatch_one(&mut self) -> Result<Option<Callback>, CsError> {
        loop {
            // SAFETY: the inbox is ours and no callback runs now.
            let inbox = unsafe { &mut *self.inbox };
            if !inbox.is_empty() {
                return Ok(Some(inbox.remove(0)));
            }
            // SAFETY: a live handle; the callbacks it runs write only to
            // the inbox, which is not borrowed during the call.
            match unsafe { cpg_dispatch(self.handle, CS_DISPATCH_ONE_NONBLOCKING) } {
                // One callback ran: ours put it in the inbox (looked at
                // above), anything else is nothing to us.
                CS_OK => continue,
                CS_ERR_TRY_AGAIN => return Ok(None),
                code => {
                    return Err(CsError {
                        call: "cpg_dispatch",
                        code,
                    })
                }
            }
        }
    }
}

impl Drop for Cpg {
    fn drop(&mut self) {
        // SAFETY: a live handle, finalized once; no callback runs after.
        unsafe {
            cpg_finalize(self.handle);
        }
        // SAFETY: from Box::into_raw in initialize; the handle that used
        // it as context is gone.
        drop(unsafe { Box::from_raw(self.inbox) });
    }
}
