//! Adding and removing VIPs on interfaces. IPv4 with ioctls, as C
//! wackamole does, without its defects (spec §9.1): always on an alias
//! label (`eth0:N`, the first free N from 1), never touching the base
//! interface's own address or flags, idempotent (an address already up
//! counts as held; releasing an absent one is no error), and with
//! `promote_secondaries` on so that removing a primary address keeps
//! the others. IPv6 over rtnetlink, without duplicate address
//! detection (see [`super::netlink`]), with the same idempotence.
//!
//! A takeover of many VIPs is one batch ([`Interfaces::begin_batch`]):
//! the host's addresses are listed once for all of it, not once per VIP.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::netlink::{self, AddrOp, AddrRequest};
use crate::config::{If6Addr, IfAddr};
use crate::sys::net::{self as sys, IoctlSocket};
use crate::sys::netlink::NetlinkSocket;

/// Why an address could not be added or removed, in the operator's terms.
#[derive(Debug)]
pub enum IfError {
    NoSuchInterface {
        ifname: String,
    },
    InterfaceDown {
        ifname: String,
    },
    PermissionDenied {
        what: String,
    },
    /// No alias label `IF:N` fits in 15 bytes.
    NoFreeLabel {
        ifname: String,
    },
    Io {
        what: String,
        source: io::Error,
    },
}

impl fmt::Display for IfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IfError::NoSuchInterface { ifname } => {
                write!(f, "no interface '{ifname}' on this host")
            }
            IfError::InterfaceDown { ifname } => write!(f, "interface '{ifname}' is down"),
            IfError::PermissionDenied { what } => {
                write!(f, "{what}: permission denied (wackamole must run as root)")
            }
            IfError::NoFreeLabel { ifname } => {
                write!(
                    f,
                    "no free alias label on '{ifname}' (IF:N must fit in 15 bytes)"
                )
            }
            IfError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for IfError {}

fn io_err(what: impl Into<String>, e: io::Error) -> IfError {
    let what = what.into();
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => IfError::PermissionDenied { what },
        _ => IfError::Io { what, source: e },
    }
}

/// Every address of an `ensure` failed alike: the listing did.
fn listing_failed<A, T>(
    addrs: impl Iterator<Item = A>,
    e: &io::Error,
) -> Vec<(A, Result<T, IfError>)> {
    addrs
        .map(|a| {
            let e = io::Error::new(e.kind(), e.to_string());
            (a, Err(io_err("listing addresses", e)))
        })
        .collect()
}

/// What `acquire` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Added on this alias label.
    Added { label: String },
    /// Already up (on this label): counted as held, nothing changed.
    AlreadyUp { label: String },
}

/// What `release` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    Removed {
        label: String,
    },
    /// Not on this host: nothing to do.
    NotPresent,
    /// On a base interface: left alone (taking it down would down the
    /// interface; this is not an address wackamole added).
    OnBaseInterface {
        ifname: String,
    },
}

/// IPv4 addresses on this host, by label (`eth0`, `eth0:1`, ...).
pub fn list_v4() -> io::Result<Vec<(String, Ipv4Addr)>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        if let Some(sin) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
            out.push((ifa.interface_name, sin.ip()));
        }
    }
    Ok(out)
}

/// IPv6 addresses on this host, by interface.
pub fn list_v6() -> io::Result<Vec<(String, Ipv6Addr)>> {
    let mut out = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
        if let Some(sin6) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in6()) {
            out.push((ifa.interface_name, sin6.ip()));
        }
    }
    Ok(out)
}

/// The base interface of a label (`eth0:3` → `eth0`).
pub fn base_of(label: &str) -> &str {
    label.split(':').next().unwrap_or(label)
}

/// The first free alias label `IF:N`, N from 1, among `used` labels:
/// the rule [`Snapshot::free_label`] keeps without trying every label
/// (its tests check the two agree).
#[cfg(test)]
fn free_label(ifname: &str, used: &[String]) -> Option<String> {
    (1..MAX_ALIAS)
        .map(|n| format!("{ifname}:{n}"))
        .take_while(|l| l.len() <= sys::MAX_NAME)
        .find(|l| !used.contains(l))
}

/// Alias numbers tried: `IF:1` to `IF:9999` (a 15-byte label holds no
/// more on any name that leaves room for a colon and four digits).
const MAX_ALIAS: u32 = 10_000;

/// The alias number of a label written as the alias rule writes it
/// (`eth0:12`; not `eth0:012` or `eth0:web`, which never clash with one).
fn alias_number(label: &str) -> Option<u32> {
    let (_, n) = label.split_once(':')?;
    if n.is_empty() || n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|&n| n < MAX_ALIAS)
}

/// The alias numbers in use on one interface: every number from `high`
/// up is free, and `free` holds the free ones below it, so the lowest
/// free one is found, taken and given back in O(log n), not by trying
/// every label against every address.
#[derive(Debug, Clone, Default)]
struct Aliases {
    free: BTreeSet<u32>,
    high: u32,
}

impl Aliases {
    fn lowest_free(&self) -> u32 {
        self.free.first().copied().unwrap_or(self.high.max(1))
    }

    fn take(&mut self, n: u32) {
        if n >= self.high {
            self.free.extend(self.high.max(1)..n);
            self.high = n + 1;
        } else {
            self.free.remove(&n);
        }
    }

    fn give_back(&mut self, n: u32) {
        if n < self.high {
            self.free.insert(n);
        }
    }
}

/// What a check of a base interface found, kept for a batch (a batch
/// changes no interface's flags, and takes milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Down,
    Missing,
}

/// The host's IPv4 addresses and labels as listed once, kept up to date
/// with the changes made since: what a batch of acquires and releases
/// looks addresses and free labels up in, instead of listing every
/// address of the host for every VIP (quadratic at a thousand VIPs).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Each address and the label it is on (the first listed, as a
    /// search of the list finds).
    addrs: HashMap<Ipv4Addr, String>,
    /// How many addresses each label carries.
    labels: HashMap<String, usize>,
    /// The alias numbers used, by base interface.
    aliases: HashMap<String, Aliases>,
    links: HashMap<String, Link>,
    /// No longer known to match the host: list again.
    stale: bool,
}

impl Snapshot {
    /// From a listing: (label, address) pairs as [`list_v4`] gives them.
    pub fn new(list: impl IntoIterator<Item = (String, Ipv4Addr)>) -> Snapshot {
        let mut s = Snapshot::default();
        for (label, a) in list {
            s.add(label, a);
        }
        s
    }

    /// Takes the host's addresses now.
    pub fn take() -> io::Result<Snapshot> {
        list_v4().map(Snapshot::new)
    }

    /// The label `a` is on, if any.
    pub fn find(&self, a: Ipv4Addr) -> Option<&str> {
        self.addrs.get(&a).map(String::as_str)
    }

    /// The lowest free alias label of `ifname`: `IF:N` with the lowest N
    /// from 1 that no label of the host uses, within 15 bytes.
    pub fn free_label(&self, ifname: &str) -> Option<String> {
        let n = self.aliases.get(ifname).map_or(1, Aliases::lowest_free);
        Some(format!("{ifname}:{n}")).filter(|l| n < MAX_ALIAS && l.len() <= sys::MAX_NAME)
    }

    /// `a` is now up on `label`.
    pub fn add(&mut self, label: String, a: Ipv4Addr) {
        if let Some(n) = alias_number(&label) {
            self.aliases
                .entry(base_of(&label).to_string())
                .or_default()
                .take(n);
        }
        *self.labels.entry(label.clone()).or_default() += 1;
        self.addrs.entry(a).or_insert(label);
    }

    /// `a` went from `label`: the label is free once it carries nothing.
    pub fn remove(&mut self, label: &str, a: Ipv4Addr) {
        if self.addrs.get(&a).is_some_and(|l| l == label) {
            self.addrs.remove(&a);
        }
        let Some(count) = self.labels.get_mut(label) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        self.labels.remove(label);
        if let (Some(n), Some(al)) = (alias_number(label), self.aliases.get_mut(base_of(label))) {
            al.give_back(n);
        }
    }

    /// How many addresses `label` carries.
    fn on_label(&self, label: &str) -> usize {
        self.labels.get(label).copied().unwrap_or(0)
    }
}

/// The interface ioctls wackamole needs, on one socket each.
///
/// Each call lists the host's addresses once, unless a batch is open
/// ([`Interfaces::begin_batch`]): then the first call lists them and
/// the rest of the batch uses and updates that [`Snapshot`], which makes
/// taking over a thousand VIPs linear; closing the batch drops it, so
/// that what other programs change between batches is seen.
#[derive(Debug)]
pub struct Interfaces {
    v4: IoctlSocket,
    batching: bool,
    snapshot: Option<Snapshot>,
}

impl Interfaces {
    pub fn open() -> Result<Interfaces, IfError> {
        Ok(Interfaces {
            v4: IoctlSocket::inet().map_err(|e| io_err("opening an AF_INET socket", e))?,
            batching: false,
            snapshot: None,
        })
    }

    /// Starts a batch: until [`Interfaces::end_batch`], the host's
    /// addresses are listed at most once. Listing is left to the first
    /// call that needs it, so a batch without addresses costs nothing.
    pub fn begin_batch(&mut self) {
        self.batching = true;
    }

    /// Ends a batch: the next call lists the host's addresses afresh.
    pub fn end_batch(&mut self) {
        self.batching = false;
        self.snapshot = None;
    }

    /// Runs `f` on the snapshot of the batch (a fresh one outside a
    /// batch, dropped after). After a failure what is up is no longer
    /// known for sure: the next call lists again.
    fn with_snapshot<T>(
        &mut self,
        f: impl FnOnce(&IoctlSocket, &mut Snapshot) -> Result<T, IfError>,
    ) -> Result<T, IfError> {
        let snap = listed(&mut self.snapshot).map_err(|e| io_err("listing addresses", e))?;
        let r = f(&self.v4, snap);
        if r.is_err() || snap.stale || !self.batching {
            self.snapshot = None;
        }
        r
    }

    /// Brings `a` up on a free alias label of its interface.
    pub fn acquire(&mut self, a: &IfAddr) -> Result<Acquired, IfError> {
        self.with_snapshot(|v4, snap| acquire(v4, snap, a))
    }

    /// Takes `a` down: clears IFF_UP on its alias label, which deletes
    /// that address alone.
    pub fn release(&mut self, a: Ipv4Addr) -> Result<Released, IfError> {
        self.with_snapshot(|v4, snap| release(v4, snap, a))
    }

    /// Re-adds any of `held` that vanished (the kernel deletes the
    /// secondaries of a removed primary unless `promote_secondaries` is
    /// on). Returns what had to be re-added. Lists the addresses once.
    pub fn ensure(&mut self, held: &[&IfAddr]) -> Vec<(Ipv4Addr, Result<Acquired, IfError>)> {
        self.in_batch(|i| {
            let gone: Vec<&IfAddr> = match listed(&mut i.snapshot) {
                Ok(s) => held
                    .iter()
                    .copied()
                    .filter(|h| s.find(h.addr).is_none())
                    .collect(),
                Err(e) => return listing_failed(held.iter().map(|h| h.addr), &e),
            };
            gone.into_iter().map(|h| (h.addr, i.acquire(h))).collect()
        })
    }

    /// Removes configured VIPs a crashed run left on alias labels.
    /// Returns what it removed (addresses on a base interface are left).
    pub fn remove_stale(
        &mut self,
        configured: &[&IfAddr],
    ) -> Vec<(Ipv4Addr, Result<Released, IfError>)> {
        self.in_batch(|i| {
            configured
                .iter()
                .map(|c| (c.addr, i.release(c.addr)))
                .filter(|(_, r)| !matches!(r, Ok(Released::NotPresent)))
                .collect()
        })
    }

    /// Runs `f` in a batch, or in the one already open.
    fn in_batch<T>(&mut self, f: impl FnOnce(&mut Interfaces) -> T) -> T {
        if self.batching {
            return f(self);
        }
        self.begin_batch();
        let r = f(self);
        self.end_batch();
        r
    }
}

/// The snapshot of the batch, listed now if there is none yet.
fn listed(snapshot: &mut Option<Snapshot>) -> io::Result<&mut Snapshot> {
    match snapshot {
        Some(s) => Ok(s),
        none => Ok(none.insert(Snapshot::take()?)),
    }
}

fn check_interface(v4: &IoctlSocket, snap: &mut Snapshot, ifname: &str) -> Result<(), IfError> {
    let link = match snap.links.get(ifname) {
        Some(&l) => l,
        None => {
            let l = if sys::ifindex(ifname).is_err() {
                Link::Missing
            } else {
                let flags = sys::flags(v4, ifname)
                    .map_err(|e| io_err(format!("reading the flags of {ifname}"), e))?;
                if flags & libc::IFF_UP == 0 {
                    Link::Down
                } else {
                    Link::Up
                }
            };
            snap.links.insert(ifname.to_string(), l);
            l
        }
    };
    let ifname = ifname.to_string();
    match link {
        Link::Up => Ok(()),
        Link::Down => Err(IfError::InterfaceDown { ifname }),
        Link::Missing => Err(IfError::NoSuchInterface { ifname }),
    }
}

fn acquire(v4: &IoctlSocket, snap: &mut Snapshot, a: &IfAddr) -> Result<Acquired, IfError> {
    if let Some(label) = snap.find(a.addr) {
        return Ok(Acquired::AlreadyUp {
            label: label.to_string(),
        });
    }
    check_interface(v4, snap, &a.ifname)?;
    let label = snap
        .free_label(&a.ifname)
        .ok_or_else(|| IfError::NoFreeLabel {
            ifname: a.ifname.clone(),
        })?;
    let what = |op: &str| format!("{op} {} on {label}", a.addr);
    sys::set_addr(v4, &label, a.addr).map_err(|e| io_err(what("adding"), e))?;
    sys::set_netmask(v4, &label, a.netmask())
        .map_err(|e| io_err(what("setting the netmask of"), e))?;
    // Always: the kernel first gives the label the classful
    // broadcast of the address (10.255.255.255 for a 10/8 address).
    sys::set_broadcast(v4, &label, a.broadcast())
        .map_err(|e| io_err(what("setting the broadcast of"), e))?;
    let flags = sys::flags(v4, &label).map_err(|e| io_err(what("reading the flags of"), e))?;
    if flags & libc::IFF_UP == 0 {
        sys::set_flags(v4, &label, flags | libc::IFF_UP)
            .map_err(|e| io_err(what("bringing up"), e))?;
    }
    snap.add(label.clone(), a.addr);
    Ok(Acquired::Added { label })
}

fn release(v4: &IoctlSocket, snap: &mut Snapshot, a: Ipv4Addr) -> Result<Released, IfError> {
    let Some(label) = snap.find(a).map(str::to_string) else {
        return Ok(Released::NotPresent);
    };
    if !label.contains(':') {
        return Ok(Released::OnBaseInterface { ifname: label });
    }
    let what = format!("removing {a} from {label}");
    let flags = sys::flags(v4, &label).map_err(|e| io_err(what.clone(), e))?;
    // The kernel deletes the label's first address, which is `a` unless
    // someone put more on the label: then which one went is not known.
    let shared = snap.on_label(&label) > 1;
    sys::set_flags(v4, &label, flags & !libc::IFF_UP).map_err(|e| io_err(what, e))?;
    if shared {
        snap.stale = true;
    } else {
        snap.remove(&label, a);
    }
    Ok(Released::Removed { label })
}

/// Turns `promote_secondaries` on for `ifname`; `Ok(true)` if it was off.
pub fn promote_secondaries(ifname: &str) -> io::Result<bool> {
    if ifname.contains('/') || ifname.contains("..") || ifname.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad interface name",
        ));
    }
    let path = format!("/proc/sys/net/ipv4/conf/{ifname}/promote_secondaries");
    if std::fs::read_to_string(&path)?.trim() == "1" {
        return Ok(false);
    }
    std::fs::write(&path, "1\n")?;
    Ok(true)
}

/// IPv6 VIPs: added and deleted by (interface index, address, prefix)
/// over rtnetlink, added without duplicate address detection so that a
/// VIP is usable (and worth announcing) the moment it is added: see
/// [`super::netlink`] for why.
///
/// In a batch ([`Interfaces6::begin_batch`]) each interface's index is
/// looked up once.
#[derive(Debug)]
pub struct Interfaces6 {
    nl: NetlinkSocket,
    /// The number of the last request (answers are matched by it).
    seq: u32,
    batching: bool,
    ifindex: HashMap<String, u32>,
}

impl Interfaces6 {
    pub fn open() -> Result<Interfaces6, IfError> {
        Ok(Interfaces6 {
            nl: NetlinkSocket::route().map_err(|e| io_err("opening a netlink socket", e))?,
            seq: 0,
            batching: false,
            ifindex: HashMap::new(),
        })
    }

    /// Starts a batch: interface indexes are looked up once until
    /// [`Interfaces6::end_batch`].
    pub fn begin_batch(&mut self) {
        self.batching = true;
    }

    /// Ends a batch: an interface renamed or re-created since is found.
    pub fn end_batch(&mut self) {
        self.batching = false;
        self.ifindex.clear();
    }

    fn ifindex(&mut self, ifname: &str) -> Result<u32, IfError> {
        if let Some(&i) = self.ifindex.get(ifname) {
            return Ok(i);
        }
        let i = sys::ifindex(ifname).map_err(|_| IfError::NoSuchInterface {
            ifname: ifname.to_string(),
        })?;
        if self.batching {
            self.ifindex.insert(ifname.to_string(), i);
        }
        Ok(i)
    }

    /// Sends one request and waits for the kernel's answer to it.
    fn request(&mut self, op: AddrOp, ifindex: u32, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let req = AddrRequest {
            op,
            ifindex,
            addr,
            prefix,
        };
        self.nl.send(&netlink::encode(&req, self.seq))?;
        // An answer is the error code and the request's header: small.
        let mut buf = [0u8; 1024];
        loop {
            let n = self.nl.recv(&mut buf)?;
            if let Some(ack) = netlink::decode_ack(&buf[..n], self.seq)? {
                return ack.into_result();
            }
        }
    }

    /// Adds `a` on `ifname`, usable at once (no DAD).
    pub fn acquire(&mut self, ifname: &str, a: Ipv6Addr, prefix: u8) -> Result<(), IfError> {
        let idx = self.ifindex(ifname)?;
        match self.request(AddrOp::Add, idx, a, prefix) {
            Ok(()) => Ok(()),
            // Already there: held.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(io_err(format!("adding {a}/{prefix} on {ifname}"), e)),
        }
    }

    /// Re-adds any of `held` that is not on its interface. Returns what
    /// had to be re-added, or could not be.
    pub fn ensure(&mut self, held: &[&If6Addr]) -> Vec<(Ipv6Addr, Result<(), IfError>)> {
        let present = match list_v6() {
            Ok(l) => l,
            Err(e) => return listing_failed(held.iter().map(|h| h.addr), &e),
        };
        held.iter()
            .filter(|h| !present.iter().any(|(n, a)| *n == h.ifname && *a == h.addr))
            .map(|h| (h.addr, self.acquire(&h.ifname, h.addr, h.prefix)))
            .collect()
    }

    pub fn release(&mut self, ifname: &str, a: Ipv6Addr, prefix: u8) -> Result<(), IfError> {
        let idx = self.ifindex(ifname)?;
        match self.request(AddrOp::Delete, idx, a, prefix) {
            Ok(()) => Ok(()),
            // Not there: nothing to do.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(io_err(format!("removing {a}/{prefix} from {ifname}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(free_label("eth0", &[]), Some("eth0:1".into()));
        let used = vec!["eth0".into(), "eth0:1".into(), "eth0:3".into()];
        assert_eq!(free_label("eth0", &used), Some("eth0:2".into()));
        // 15 bytes at most: a 13-byte name has room for :1 to :9 only.
        let long = "abcdefghijklm";
        let used: Vec<String> = (1..10).map(|n| format!("{long}:{n}")).collect();
        assert_eq!(free_label(long, &used), None);
        assert_eq!(base_of("eth0:7"), "eth0");
        assert_eq!(base_of("eth0"), "eth0");
    }

    fn addr(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    #[test]
    fn snapshot_labels_match_free_label() {
        let list = [
            ("eth0".to_string(), addr(1)),
            ("eth0:1".to_string(), addr(2)),
            ("eth0:3".to_string(), addr(3)),
            // Not written as free_label writes them: no clash.
            ("eth0:03".to_string(), addr(4)),
            ("eth0:web".to_string(), addr(5)),
            ("eth1:2".to_string(), addr(6)),
        ];
        let mut s = Snapshot::new(list.clone());
        let used: Vec<String> = list.iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(s.free_label("eth0"), free_label("eth0", &used));
        assert_eq!(s.free_label("eth0").as_deref(), Some("eth0:2"));
        assert_eq!(s.free_label("eth1").as_deref(), Some("eth1:1"));
        assert_eq!(s.free_label("eth2").as_deref(), Some("eth2:1"));
        assert_eq!(s.find(addr(3)), Some("eth0:3"));
        assert_eq!(s.find(addr(9)), None);

        s.add("eth0:2".into(), addr(7));
        assert_eq!(s.free_label("eth0").as_deref(), Some("eth0:4"));
        s.remove("eth0:1", addr(2));
        assert_eq!(s.find(addr(2)), None);
        assert_eq!(
            s.free_label("eth0").as_deref(),
            Some("eth0:1"),
            "the lowest"
        );
        s.add("eth0:1".into(), addr(8));
        assert_eq!(s.free_label("eth0").as_deref(), Some("eth0:4"));
    }

    #[test]
    fn a_label_is_free_once_it_carries_nothing() {
        let mut s = Snapshot::new([("e0:1".to_string(), addr(1)), ("e0:1".to_string(), addr(2))]);
        assert_eq!(s.on_label("e0:1"), 2);
        s.remove("e0:1", addr(1));
        assert_eq!(s.free_label("e0").as_deref(), Some("e0:2"));
        s.remove("e0:1", addr(2));
        assert_eq!(s.free_label("e0").as_deref(), Some("e0:1"));
    }

    #[test]
    fn snapshot_labels_fit_in_15_bytes() {
        let long = "abcdefghijklm";
        let mut s = Snapshot::default();
        for n in 1..10 {
            assert_eq!(s.free_label(long), Some(format!("{long}:{n}")));
            s.add(format!("{long}:{n}"), addr(n));
        }
        assert_eq!(s.free_label(long), None);
        // A thousand in a row: each the next number.
        let mut s = Snapshot::default();
        for n in 1..=1024u32 {
            let l = s.free_label("e0").unwrap();
            assert_eq!(l, format!("e0:{n}"));
            s.add(l, Ipv4Addr::from(0x0a00_0000 + n));
        }
    }

    #[test]
    fn errors_read_well() {
        let e = io_err(
            "adding 10.0.0.1 on eth0:1",
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(
            e.to_string(),
            "adding 10.0.0.1 on eth0:1: permission denied (wackamole must run as root)"
        );
        assert_eq!(
            IfError::NoSuchInterface {
                ifname: "eth9".into()
            }
            .to_string(),
            "no interface 'eth9' on this host"
        );
    }

    #[test]
    fn unknown_interfaces_are_named() {
        let Ok(mut i) = Interfaces::open() else {
            return;
        };
        let a = IfAddr {
            ifname: "nosuchif0".into(),
            addr: Ipv4Addr::new(192, 0, 2, 77),
            prefix: 32,
            net_prefix: 24,
        };
        // Fails before touching anything: the interface does not exist.
        assert!(matches!(
            i.acquire(&a),
            Err(IfError::NoSuchInterface { .. })
        ));
    }
}
