//! The bodies of wackamole's messages in its Spread group, as C 2.1.4
//! lays them out (spec §7): STATE, MATURING (empty), BALANCE, ARPCACHE.
//! Integers are 4 bytes in the sender's byte order (the receiver is told
//! whether that differs from its own); addresses are 4 bytes in network
//! order. Every count and length is checked before use.

mod round;

use std::fmt;
use std::net::Ipv4Addr;

pub use round::{Close, Hello, Vifs};

/// The 16-bit message types of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessType {
    State = 1,
    Maturing = 2,
    Balance = 3,
    Operator = 4,
    ArpCache = 5,
    /// Not in C: see [`round`].
    Hello = 6,
    /// Not in C: see [`round`].
    Close = 7,
    /// Not in C: see [`round`].
    Vifs = 8,
}

impl MessType {
    /// C's name for it.
    pub fn name(self) -> &'static str {
        match self {
            MessType::State => "STATE",
            MessType::Maturing => "MATURING",
            MessType::Balance => "BALANCE",
            MessType::Operator => "OPERATOR",
            MessType::ArpCache => "ARPCACHE",
            MessType::Hello => "HELLO",
            MessType::Close => "CLOSE",
            MessType::Vifs => "VIFS",
        }
    }

    pub fn from_wire(t: i16) -> Option<MessType> {
        Some(match t {
            1 => MessType::State,
            2 => MessType::Maturing,
            3 => MessType::Balance,
            4 => MessType::Operator,
            5 => MessType::ArpCache,
            6 => MessType::Hello,
            7 => MessType::Close,
            8 => MessType::Vifs,
            _ => return None,
        })
    }
}

/// Claim priorities on the wire (1 and 3 are never produced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Unclaimed = 0,
    ClaimedBoot = 1,
    Claimed = 2,
    PreferBoot = 3,
    Prefer = 4,
    PreferClaimed = 5,
}

impl Priority {
    pub fn from_wire(v: i32) -> Option<Priority> {
        Some(match v {
            0 => Priority::Unclaimed,
            1 => Priority::ClaimedBoot,
            2 => Priority::Claimed,
            3 => Priority::PreferBoot,
            4 => Priority::Prefer,
            5 => Priority::PreferClaimed,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Priority::Unclaimed => "UNCLAIMED",
            Priority::ClaimedBoot => "CLAIMED_BOOT",
            Priority::Claimed => "CLAIMED",
            Priority::PreferBoot => "PREFER_BOOT",
            Priority::Prefer => "PREFER",
            Priority::PreferClaimed => "PREFER_CLAIMED",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgError {
    TooShort { need: usize, have: usize },
    BadCount { what: &'static str, count: i64 },
    BadPriority(i32),
    BadMaturity(i32),
}

impl fmt::Display for MsgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsgError::TooShort { need, have } => {
                write!(f, "body of {have} bytes, at least {need} needed")
            }
            MsgError::BadCount { what, count } => {
                write!(f, "{what} count {count} does not fit the body")
            }
            MsgError::BadPriority(p) => write!(f, "unknown claim priority {p}"),
            MsgError::BadMaturity(m) => write!(f, "maturity field {m} is neither 0 nor 1"),
        }
    }
}

/// Reads the sender's integers: `swap` when its byte order is not ours.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    swap: bool,
}

impl<'a> Reader<'a> {
    fn need(&self, n: usize) -> Result<(), MsgError> {
        if self.at + n > self.b.len() {
            Err(MsgError::TooShort {
                need: self.at + n,
                have: self.b.len(),
            })
        } else {
            Ok(())
        }
    }

    fn int(&mut self) -> Result<i32, MsgError> {
        self.need(4)?;
        let v = i32::from_ne_bytes(self.b[self.at..self.at + 4].try_into().expect("4 bytes"));
        self.at += 4;
        Ok(if self.swap { v.swap_bytes() } else { v })
    }

    fn u32(&mut self) -> Result<u32, MsgError> {
        self.int().map(|v| v as u32)
    }

    /// Addresses are network order on the wire whatever the sender's
    /// byte order. (C swaps them too on a mismatch, which breaks mixed
    /// clusters; we read them as they are.)
    fn addr(&mut self) -> Result<Ipv4Addr, MsgError> {
        self.need(4)?;
        let a = Ipv4Addr::new(
            self.b[self.at],
            self.b[self.at + 1],
            self.b[self.at + 2],
            self.b[self.at + 3],
        );
        self.at += 4;
        Ok(a)
    }

    /// A count of `size`-byte items that must fit what is left.
    fn count(&mut self, what: &'static str, size: usize) -> Result<usize, MsgError> {
        let n = self.int()?;
        let left = (self.b.len() - self.at) / size;
        if n < 0 || n as usize > left {
            return Err(MsgError::BadCount {
                what,
                count: i64::from(n),
            });
        }
        Ok(n as usize)
    }
}

fn put_int(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_ne_bytes());
}

/// STATE: what a member holds and prefers, sent at every membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub group_id: [u32; 3],
    /// The sender's identity (its real address).
    pub real: Ipv4Addr,
    /// The sender's index in the membership.
    pub index: i32,
    pub mature: bool,
    /// The VIFs it held (by master address) with their priority.
    pub held: Vec<(Ipv4Addr, Priority)>,
    pub prefer: Vec<Ipv4Addr>,
}

/// The bytes of a STATE naming `held` VIFs and `prefer` addresses.
pub const fn state_len(held: usize, prefer: usize) -> usize {
    32 + 8 * held + 4 * prefer
}

impl State {
    /// In our own byte order, as C writes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(state_len(self.held.len(), self.prefer.len()));
        for w in self.group_id {
            put_int(&mut v, w as i32);
        }
        v.extend_from_slice(&self.real.octets());
        put_int(&mut v, self.index);
        put_int(&mut v, i32::from(self.mature));
        put_int(&mut v, self.held.len() as i32);
        for (a, p) in &self.held {
            v.extend_from_slice(&a.octets());
            put_int(&mut v, *p as i32);
        }
        put_int(&mut v, self.prefer.len() as i32);
        for a in &self.prefer {
            v.extend_from_slice(&a.octets());
        }
        v
    }

    /// `swap`: the sender's byte order differs from ours. Bytes after
    /// the prefer list are ignored, as C ignores them.
    pub fn decode(b: &[u8], swap: bool) -> Result<State, MsgError> {
        let mut r = Reader { b, at: 0, swap };
        let group_id = [r.u32()?, r.u32()?, r.u32()?];
        let real = r.addr()?;
        let index = r.int()?;
        let mature = match r.int()? {
            0 => false,
            1 => true,
            m => return Err(MsgError::BadMaturity(m)),
        };
        let n = r.count("held VIF", 8)?;
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            let a = r.addr()?;
            let p = r.int()?;
            held.push((a, Priority::from_wire(p).ok_or(MsgError::BadPriority(p))?));
        }
        let p = r.count("prefer", 4)?;
        let mut prefer = Vec::with_capacity(p);
        for _ in 0..p {
            prefer.push(r.addr()?);
        }
        Ok(State {
            group_id,
            real,
            index,
            mature,
            held,
            prefer,
        })
    }
}

/// BALANCE: the leader's moves, `(new owner, master address)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub moves: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Balance {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + 8 * self.moves.len());
        put_int(&mut v, self.moves.len() as i32);
        for (owner, vip) in &self.moves {
            v.extend_from_slice(&owner.octets());
            v.extend_from_slice(&vip.octets());
        }
        v
    }

    /// At most `(length - 4) / 8` pairs are read, whatever the count
    /// says (C leaders may write a count larger than their pairs).
    pub fn decode(b: &[u8], swap: bool) -> Result<Balance, MsgError> {
        let mut r = Reader { b, at: 0, swap };
        let k = r.int()?;
        if k < 0 {
            return Err(MsgError::BadCount {
                what: "move",
                count: i64::from(k),
            });
        }
        let n = (k as usize).min((b.len() - 4) / 8);
        let mut moves = Vec::with_capacity(n);
        for _ in 0..n {
            moves.push((r.addr()?, r.addr()?));
        }
        Ok(Balance { moves })
    }
}

/// One ARPCACHE record: an address and its hardware address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRecord {
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
}

/// The most records one ARPCACHE carries (99,996 bytes).
pub const MAX_ARP_RECORDS: usize = 8_333;

/// 12-byte records: address, MAC, two zero pad bytes.
pub fn encode_arp_cache(records: &[ArpRecord]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 * records.len().min(MAX_ARP_RECORDS));
    for r in records.iter().take(MAX_ARP_RECORDS) {
        v.extend_from_slice(&r.ip.octets());
        v.extend_from_slice(&r.mac);
        v.extend_from_slice(&[0, 0]);
    }
    v
}

/// Every whole record (a trailing partial one is ignored); records with
/// address 0.0.0.0 or MAC 00:..:00 (incomplete entries) are skipped.
pub fn decode_arp_cache(b: &[u8]) -> Vec<ArpRecord> {
    b.chunks_exact(12)
        .take(MAX_ARP_RECORDS)
        .map(|c| ArpRecord {
            ip: Ipv4Addr::new(c[0], c[1], c[2], c[3]),
            mac: [c[4], c[5], c[6], c[7], c[8], c[9]],
        })
        .filter(|r| !r.ip.is_unspecified() && r.mac != [0; 6])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    // three-hosts.decoded.txt: tb1's STATE holding six VIFs.
    const TB1_STATE: &str = "7f4f0c9ee81c066b02000000c0a84e01000000000100000006000000c0a84e6502000000c0a84e6602000000c0a84e6702000000c0a84e6802000000c0a84e6902000000c0a84e6a020000000100000000000000";

    #[test]
    fn state_of_c_2_1_4_round_trips() {
        let s = State::decode(&hex(TB1_STATE), false).unwrap();
        assert_eq!(s.group_id, [0x9e0c_4f7f, 0x6b06_1ce8, 2]);
        assert_eq!(s.real, a("192.168.78.1"));
        assert_eq!((s.index, s.mature), (0, true));
        assert_eq!(s.held.len(), 6);
        assert_eq!(s.held[0], (a("192.168.78.101"), Priority::Claimed));
        assert_eq!(s.prefer, [Ipv4Addr::UNSPECIFIED]);
        if cfg!(target_endian = "little") {
            assert_eq!(s.encode(), hex(TB1_STATE));
        }
    }

    #[test]
    fn state_with_a_prefer_list() {
        // prefer-join: tb3 prefers .101.
        let b = hex("7f4f0c9e1b1d066b03000000c0a84e0302000000000000000000000001000000c0a84e65");
        let s = State::decode(&b, false).unwrap();
        assert_eq!((s.index, s.mature, s.held.len()), (2, false, 0));
        assert_eq!(s.prefer, [a("192.168.78.101")]);
    }

    #[test]
    fn swapped_state() {
        let s = State {
            group_id: [1, 2, 3],
            real: a("10.0.0.1"),
            index: 7,
            mature: true,
            held: vec![(a("10.0.0.9"), Priority::PreferClaimed)],
            prefer: vec![a("10.0.0.9")],
        };
        // Swap every int of our encoding: what the other byte order sends.
        let mut b = s.encode();
        for at in [0, 4, 8, 16, 20, 24, 32, 36] {
            b[at..at + 4].reverse();
        }
        assert_eq!(State::decode(&b, true).unwrap(), s);
    }

    #[test]
    fn malformed_states_are_refused() {
        let good = hex(TB1_STATE);
        assert!(matches!(
            State::decode(&good[..27], false),
            Err(MsgError::TooShort { .. })
        ));
        // A held count larger than the body.
        let mut b = good.clone();
        b[24] = 8;
        assert_eq!(
            State::decode(&b, false),
            Err(MsgError::BadCount {
                what: "held VIF",
                count: 8
            })
        );
        // One more than it carries: the prefer count is missing.
        b[24] = 7;
        assert!(matches!(
            State::decode(&b, false),
            Err(MsgError::TooShort { .. })
        ));
        let mut b = good.clone();
        b[27] = 0x80;
        assert!(matches!(
            State::decode(&b, false),
            Err(MsgError::BadCount { .. })
        ));
        // A prefer count past the end.
        let mut b = good.clone();
        let n = b.len();
        b[n - 8] = 2;
        assert_eq!(
            State::decode(&b, false),
            Err(MsgError::BadCount {
                what: "prefer",
                count: 2
            })
        );
        let mut b = good.clone();
        b[32] = 9;
        assert_eq!(State::decode(&b, false), Err(MsgError::BadPriority(9)));
        let mut b = good.clone();
        b[20] = 2;
        assert_eq!(State::decode(&b, false), Err(MsgError::BadMaturity(2)));
        // Trailing bytes are ignored (room for a future trailer).
        let mut b = good.clone();
        b.extend_from_slice(&[0xAA; 20]);
        assert!(State::decode(&b, false).is_ok());
        // Random mutations never panic.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            let mut b = good.clone();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = x as usize % b.len();
            b[i] = (x >> 40) as u8;
            b.truncate(x as usize % (b.len() + 1));
            let _ = State::decode(&b, x & 1 == 1);
        }
    }

    #[test]
    fn balance_bodies() {
        // three-hosts: tb1 moves .104 and .101 to tb3.
        let b = hex("02000000c0a84e03c0a84e68c0a84e03c0a84e65");
        let m = Balance::decode(&b, false).unwrap();
        assert_eq!(
            m.moves,
            [
                (a("192.168.78.3"), a("192.168.78.104")),
                (a("192.168.78.3"), a("192.168.78.101"))
            ]
        );
        if cfg!(target_endian = "little") {
            assert_eq!(m.encode(), b);
        }
        // A C leader's count larger than its pairs: read what is there.
        let mut c = b.clone();
        c[0] = 3;
        assert_eq!(Balance::decode(&c, false).unwrap().moves.len(), 2);
        assert_eq!(
            Balance::decode(&hex("00000000"), false)
                .unwrap()
                .moves
                .len(),
            0
        );
        assert!(Balance::decode(&hex("ffffffff"), false).is_err());
        assert!(Balance::decode(&[1, 0], false).is_err());
    }

    #[test]
    fn arp_cache_records() {
        let b = hex("c0a84e03e226dc4f1d5a0000c0a84e02c2073cf5f3680000");
        let r = decode_arp_cache(&b);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].ip, a("192.168.78.3"));
        assert_eq!(r[0].mac, [0xe2, 0x26, 0xdc, 0x4f, 0x1d, 0x5a]);
        assert_eq!(encode_arp_cache(&r), b);
        // Incomplete entries and a partial record are dropped.
        let mut c = b.clone();
        c.extend_from_slice(&hex("0a000001000000000000AAAA"));
        c.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode_arp_cache(&c).len(), 2);
        let many = vec![
            ArpRecord {
                ip: a("10.0.0.1"),
                mac: [1; 6]
            };
            9000
        ];
        assert_eq!(encode_arp_cache(&many).len(), 99_996);
    }
}
