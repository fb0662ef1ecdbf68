//! The pure half of the Corosync backend (`group::corosync`): how a
//! CPG configuration change becomes the engine's [`View`], how members
//! are named, and how a message's type and its sender's byte order
//! travel beside the body. No library calls: this compiles, and is
//! tested, without the Corosync libraries.
//!
//! CPG gives what the engine needs from Spread (agreed order, views
//! agreed by all), but not in Spread's words:
//!
//! * A member is a (node id, pid) pair; its name here is `NODEID:PID`.
//! * CPG's member list is in no promised order: the view lists members
//!   sorted by (node id, pid), the same order on every node.
//! * CPG has no group id. STATE, HELLO, CLOSE and VIFS carry one (C put
//!   Spread's there), checked against the receiver's current view, so
//!   it must be the same on every member of a view and change with every
//!   membership. It is a stable 96-bit hash of the sorted member list:
//!   only the member list is the same everywhere (after a merge each side
//!   is told a different `joined` list, and the totem ring id reaches the
//!   client after the CPG change). The same list returning (a member that
//!   left rejoining from the same process) gives the same id again; a
//!   message overtaken by two whole configuration changes would be the
//!   only one mistaken for current, and the engine drops a second STATE
//!   from one sender in a view.
//! * CPG messages have no type: each body is framed with an 8-byte
//!   header (`WKM`, version, flags with the sender's byte order, the
//!   16-bit type). A message without it — another program in the group
//!   — is dropped with a log line.

use super::{Cause, View};

/// A CPG confchg reason (`cpg_reason_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Join,
    Leave,
    NodeDown,
    NodeUp,
    ProcDown,
    Other(u32),
}

impl Reason {
    pub fn from_raw(r: u32) -> Reason {
        match r {
            1 => Reason::Join,
            2 => Reason::Leave,
            3 => Reason::NodeDown,
            4 => Reason::NodeUp,
            5 => Reason::ProcDown,
            n => Reason::Other(n),
        }
    }
}

/// One CPG member: the node it runs on and its process id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    pub nodeid: u32,
    pub pid: u32,
}

impl Member {
    /// The name the engine, the logs and the status use.
    pub fn name(&self) -> String {
        format!("{}:{}", self.nodeid, self.pid)
    }
}

/// Why the membership changed, from the joined and left lists' reasons:
/// a node coming or going is a network change (its neighbours may have
/// heard from both sides), else a process that died is a disconnect, a
/// clean leave a leave, and anything else a join.
pub fn cause(joined: &[Reason], left: &[Reason]) -> Cause {
    let any = |r: Reason| joined.contains(&r) || left.contains(&r);
    if any(Reason::NodeDown) || any(Reason::NodeUp) {
        Cause::Network
    } else if any(Reason::ProcDown) {
        Cause::Disconnect
    } else if !left.is_empty() {
        Cause::Leave
    } else {
        Cause::Join
    }
}

/// FNV-1a, 64 bits: stable across builds and machines (std's hasher is
/// not promised to be), as every member must compute the same id.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The view id of a member list (sorted), the same on every node.
pub fn view_id(sorted: &[Member]) -> [u32; 3] {
    let mut bytes = Vec::with_capacity(sorted.len() * 8);
    for m in sorted {
        bytes.extend_from_slice(&m.nodeid.to_be_bytes());
        bytes.extend_from_slice(&m.pid.to_be_bytes());
    }
    let a = fnv1a(0xcbf2_9ce4_8422_2325, &bytes);
    let b = fnv1a(a ^ 0x9e37_79b9_7f4a_7c15, &bytes);
    [(a >> 32) as u32, a as u32, (b >> 32) as u32 ^ b as u32]
}

/// What a configuration change means to this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A view with this node in it.
    View(View),
    /// This node is not in the member list (its own leave, or a change
    /// seen after it): nothing for the engine.
    NotMember,
}

/// Turns a confchg into the engine's view of it for the member `me`.
pub fn change(me: Member, members: &[Member], joined: &[Reason], left: &[Reason]) -> Change {
    let mut sorted = members.to_vec();
    sorted.sort();
    sorted.dedup();
    let Some(my_index) = sorted.iter().position(|m| *m == me) else {
        return Change::NotMember;
    };
    Change::View(View {
        id: view_id(&sorted),
        members: sorted.iter().map(Member::name).collect(),
        my_index,
        cause: cause(joined, left),
    })
}

/// The frame header's length.
pub const HEADER: usize = 8;
const MAGIC: &[u8; 3] = b"WKM";
const VERSION: u8 = 1;
/// Flags bit: the sender's integers are big-endian.
const BIG_ENDIAN: u8 = 1;

/// Frames a body of type `mess_type` from this host.
pub fn frame(mess_type: i16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(if cfg!(target_endian = "big") {
        BIG_ENDIAN
    } else {
        0
    });
    out.push(0);
    out.extend_from_slice(&mess_type.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A framed message as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed<'a> {
    pub mess_type: i16,
    /// The sender's byte order differs from this host's.
    pub swapped: bool,
    pub body: &'a [u8],
}

/// Why a CPG message is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    Short(usize),
    NotOurs,
    Version(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Short(n) => write!(f, "{n} bytes, shorter than a wackamole header"),
            FrameError::NotOurs => f.write_str("no wackamole header"),
            FrameError::Version(v) => write!(f, "wackamole frame version {v}, not {VERSION}"),
        }
    }
}

/// Reads a frame's header.
pub fn unframe(msg: &[u8]) -> Result<Framed<'_>, FrameError> {
    if msg.len() < HEADER {
        return Err(FrameError::Short(msg.len()));
    }
    if &msg[..3] != MAGIC {
        return Err(FrameError::NotOurs);
    }
    if msg[3] != VERSION {
        return Err(FrameError::Version(msg[3]));
    }
    let big = msg[4] & BIG_ENDIAN != 0;
    Ok(Framed {
        mess_type: i16::from_be_bytes([msg[6], msg[7]]),
        swapped: big != cfg!(target_endian = "big"),
        body: &msg[HEADER..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(nodeid: u32, pid: u32) -> Member {
        Member { nodeid, pid }
    }

    #[test]
    fn every_node_sees_one_order_and_one_id() {
        let a = [m(2, 50), m(1, 700), m(3, 9)];
        let b = [m(3, 9), m(2, 50), m(1, 700)];
        let (Change::View(va), Change::View(vb)) = (
            change(m(1, 700), &a, &[Reason::Join], &[]),
            change(m(3, 9), &b, &[Reason::NodeUp], &[]),
        ) else {
            panic!("both are members");
        };
        assert_eq!(va.members, ["1:700", "2:50", "3:9"]);
        assert_eq!(va.members, vb.members);
        assert_eq!(va.id, vb.id);
        assert_eq!((va.my_index, vb.my_index), (0, 2));
    }

    #[test]
    fn the_id_changes_with_the_members() {
        let ids = [
            view_id(&[m(1, 1)]),
            view_id(&[m(1, 1), m(2, 1)]),
            view_id(&[m(1, 2), m(2, 1)]),
            view_id(&[m(1, 1), m(2, 2)]),
            view_id(&[m(2, 1), m(1, 1)]),
            view_id(&[]),
        ];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_pinned_id_never_changes_between_builds() {
        // Mixed versions in one cluster must compute the same id.
        let id = view_id(&[m(1, 1)]);
        assert_eq!(id, PINNED_1_1, "the id of [1:1] moved: {id:x?}");
    }

    const PINNED_1_1: [u32; 3] = [0x9c19_1607, 0xaaca_d115, 0xb59e_57ee];

    #[test]
    fn a_change_without_me_is_not_a_view() {
        assert_eq!(
            change(m(1, 5), &[m(2, 5)], &[], &[Reason::Leave]),
            Change::NotMember
        );
    }

    #[test]
    fn causes() {
        use Reason::*;
        assert_eq!(cause(&[Join], &[]), Cause::Join);
        assert_eq!(cause(&[], &[Leave]), Cause::Leave);
        assert_eq!(cause(&[], &[ProcDown]), Cause::Disconnect);
        assert_eq!(cause(&[], &[NodeDown]), Cause::Network);
        assert_eq!(cause(&[NodeUp], &[]), Cause::Network);
        assert_eq!(cause(&[NodeUp], &[ProcDown]), Cause::Network);
        assert_eq!(cause(&[Join], &[ProcDown]), Cause::Disconnect);
        assert_eq!(cause(&[Join], &[Leave]), Cause::Leave);
        assert_eq!(cause(&[Other(9)], &[]), Cause::Join);
        assert_eq!(Reason::from_raw(5), ProcDown);
        assert_eq!(Reason::from_raw(0), Other(0));
    }

    #[test]
    fn frames_round_trip_and_strangers_are_refused() {
        let f = frame(3, b"body");
        assert_eq!(f.len(), HEADER + 4);
        let got = unframe(&f).unwrap();
        assert_eq!(got.mess_type, 3);
        assert!(!got.swapped);
        assert_eq!(got.body, b"body");
        let mut other = f.clone();
        other[4] ^= BIG_ENDIAN;
        assert!(unframe(&other).unwrap().swapped);
        assert_eq!(unframe(b"WKM"), Err(FrameError::Short(3)));
        assert_eq!(unframe(b"hello world"), Err(FrameError::NotOurs));
        let mut v2 = f.clone();
        v2[3] = 2;
        assert_eq!(unframe(&v2), Err(FrameError::Version(2)));
        assert_eq!(unframe(&frame(-1, b"")).unwrap().mess_type, -1);
    }
}
