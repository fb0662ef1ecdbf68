//! The Spread client protocol on the wire (Spread 3.16 to 5.x), without
//! I/O: bytes in, typed values out, and back. See
//! `spread-client-protocol.md` in the project's shared specs.
//!
//! - [`handshake`]: the connect request, the authentication exchange and
//!   the accept reply, decoded incrementally (the daemon writes its
//!   replies one byte at a time).
//! - [`request`]: what a client sends (multicast, join, leave, kill),
//!   and its decoding with the daemon's validation rules (for the test
//!   daemon).
//! - [`message`]: what a daemon delivers (data, memberships,
//!   transitional memberships, self-leave, reject), decoded from a byte
//!   stream split anywhere, and encoded (for the test daemon).

#[cfg(test)]
pub(crate) mod capture;
pub mod handshake;
pub mod message;
pub mod request;

use super::error::SpreadError;
use super::name;

/// The version this library announces: 5.0.1, accepted by 3.16+, 4.x
/// and 5.x daemons alike.
pub const VERSION: (u8, u8, u8) = (5, 0, 1);
pub const HEADER_LEN: usize = 48;
/// Name lengths: Spread's name rules live in [`super::name`].
pub use super::name::{MAX_GROUP_NAME, MAX_PRIVATE_NAME};
/// What a daemon accepts in one request (session.c).
pub const MAX_REQUEST_GROUPS: usize = 100;
pub const MAX_REQUEST_DATA: usize = 144_000;
pub const MAX_REQUEST_DATA_WITH_GROUPS: usize = 143_952;
/// The longest body a multicast to one group may carry.
pub const MAX_ONE_GROUP_DATA: usize = MAX_REQUEST_DATA_WITH_GROUPS - MAX_GROUP_NAME;
/// The endian flag bits of `type` and `hint`.
pub const ENDIAN_TYPE: u32 = 0x8000_0080;

/// Service and message-kind bits of the `type` word.
pub mod service {
    pub const UNRELIABLE: u32 = 0x0000_0001;
    pub const RELIABLE: u32 = 0x0000_0002;
    pub const FIFO: u32 = 0x0000_0004;
    pub const CAUSAL: u32 = 0x0000_0008;
    pub const AGREED: u32 = 0x0000_0010;
    pub const SAFE: u32 = 0x0000_0020;
    /// Every data service bit.
    pub const REGULAR: u32 = 0x0000_003f;
    pub const SELF_DISCARD: u32 = 0x0000_0040;
    pub const CAUSED_BY_JOIN: u32 = 0x0000_0100;
    pub const CAUSED_BY_LEAVE: u32 = 0x0000_0200;
    pub const CAUSED_BY_DISCONNECT: u32 = 0x0000_0400;
    pub const CAUSED_BY_NETWORK: u32 = 0x0000_0800;
    pub const REG_MEMB: u32 = 0x0000_1000;
    pub const TRANSITION: u32 = 0x0000_2000;
    pub const JOIN: u32 = 0x0001_0000;
    pub const LEAVE: u32 = 0x0002_0000;
    pub const KILL: u32 = 0x0004_0000;
    pub const REJECT: u32 = 0x0040_0000;

    /// The name of a data service, for display.
    pub fn name(s: u32) -> &'static str {
        match s & REGULAR {
            UNRELIABLE => "UNRELIABLE",
            RELIABLE => "RELIABLE",
            FIFO => "FIFO",
            CAUSAL => "CAUSAL",
            AGREED => "AGREED",
            SAFE => "SAFE",
            _ => "?",
        }
    }
}

/// A byte order to write in. Readers detect the writer's order from the
/// endian flag; writing the other order is how tests cover that path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Little,
    Big,
}

impl Order {
    pub const NATIVE: Order = if cfg!(target_endian = "little") {
        Order::Little
    } else {
        Order::Big
    };

    /// The value of the endian flag bits a writer in this order sets.
    pub fn flag(self) -> u32 {
        match self {
            Order::Little => ENDIAN_TYPE,
            Order::Big => 0,
        }
    }

    pub fn put(self, out: &mut Vec<u8>, v: u32) {
        match self {
            Order::Little => out.extend_from_slice(&v.to_le_bytes()),
            Order::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// The order a word with these flag bits was written in.
    pub fn of_flag(word_as_native: u32) -> Order {
        if word_as_native & ENDIAN_TYPE == Order::NATIVE.flag() {
            Order::NATIVE
        } else {
            Order::NATIVE.other()
        }
    }

    pub fn other(self) -> Order {
        match self {
            Order::Little => Order::Big,
            Order::Big => Order::Little,
        }
    }

    /// Reads a u32 written in this order.
    pub fn get(self, b: [u8; 4]) -> u32 {
        match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }
}

pub fn clear_endian(t: u32) -> u32 {
    t & !ENDIAN_TYPE
}

fn word(b: &[u8], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

/// A group name a client may join or send to, by Spread's rules
/// ([`name::check_group`]); what breaks them is ILLEGAL_GROUP.
pub fn check_group_name(name: &str) -> Result<(), SpreadError> {
    name::check_group(name).map_err(|_| SpreadError::IllegalGroup)
}

/// A private name (0–10 name bytes, [`name::check_private_name`]);
/// what breaks the rules is REJECT_ILLEGAL_NAME.
pub fn check_private_name(name: &str) -> Result<(), SpreadError> {
    name::check_private_name(name).map_err(|_| SpreadError::RejectIllegalName)
}

/// A 32-byte NUL-padded name slot.
pub(crate) fn put_name(out: &mut Vec<u8>, name: &str) {
    let b = name.as_bytes();
    let n = b.len().min(MAX_GROUP_NAME - 1);
    out.extend_from_slice(&b[..n]);
    out.resize(out.len() + MAX_GROUP_NAME - n, 0);
}

/// The name in a 32-byte slot: up to the first NUL (what follows it may
/// be garbage, as in a C client's KILL request).
pub(crate) fn get_name(slot: &[u8]) -> String {
    let end = slot.iter().position(|&c| c == 0).unwrap_or(slot.len());
    String::from_utf8_lossy(&slot[..end]).into_owned()
}

/// A group's view identifier: daemon proc id, daemon time, counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GroupId(pub [u32; 3]);

impl std::fmt::Display for GroupId {
    /// As `spuser` prints it: three signed integers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{}:{}:{}", a as i32, b as i32, c as i32)
    }
}

/// The 48-byte header, fields as written (no swapping yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    pub type_word: [u8; 4],
    pub sender: String,
    pub num_groups: [u8; 4],
    pub hint: [u8; 4],
    pub data_len: [u8; 4],
}

impl RawHeader {
    pub fn parse(b: &[u8]) -> RawHeader {
        debug_assert!(b.len() >= HEADER_LEN);
        RawHeader {
            type_word: word(b, 0),
            sender: get_name(&b[4..36]),
            num_groups: word(b, 36),
            hint: word(b, 40),
            data_len: word(b, 44),
        }
    }

    /// The byte order of `type`, `num_groups` and `data_len` (and of a
    /// body the writer built).
    pub fn order(&self) -> Order {
        Order::of_flag(u32::from_ne_bytes(self.type_word))
    }

    /// `type` with the endian flag cleared.
    pub fn service_type(&self) -> u32 {
        clear_endian(self.order().get(self.type_word))
    }

    pub fn num_groups(&self) -> u32 {
        self.order().get(self.num_groups)
    }

    pub fn data_len(&self) -> u32 {
        self.order().get(self.data_len)
    }

    /// The byte order of `hint`: its own flag says (the daemon forwards
    /// it untouched from the original sender).
    pub fn hint_order(&self) -> Order {
        Order::of_flag(u32::from_ne_bytes(self.hint))
    }

    /// `hint` in the reader's terms, endian flag cleared.
    pub fn hint_value(&self) -> u32 {
        clear_endian(self.hint_order().get(self.hint))
    }

    /// The 16-bit message type carried in `hint`.
    pub fn mess_type(&self) -> i16 {
        ((self.hint_value() >> 8) & 0xffff) as u16 as i16
    }
}

/// Writes a header in `order`.
pub(crate) fn put_header(
    out: &mut Vec<u8>,
    order: Order,
    service_type: u32,
    sender: &str,
    num_groups: u32,
    hint: [u8; 4],
    data_len: u32,
) {
    order.put(out, clear_endian(service_type) | order.flag());
    put_name(out, sender);
    order.put(out, num_groups);
    out.extend_from_slice(&hint);
    order.put(out, data_len);
}

/// A whole message: header, destination group slots, data.
pub(crate) fn put_message<'a>(
    order: Order,
    service_type: u32,
    sender: &str,
    groups: impl ExactSizeIterator<Item = &'a str>,
    hint: [u8; 4],
    data: &[u8],
) -> Vec<u8> {
    let n = groups.len();
    let mut v = Vec::with_capacity(HEADER_LEN + MAX_GROUP_NAME * n + data.len());
    put_header(
        &mut v,
        order,
        service_type,
        sender,
        n as u32,
        hint,
        data.len() as u32,
    );
    for g in groups {
        put_name(&mut v, g);
    }
    v.extend_from_slice(data);
    v
}

/// The hint word for a message type, in `order`.
pub fn hint_for(order: Order, mess_type: i16) -> [u8; 4] {
    let v = ((u32::from(mess_type as u16) << 8) & 0x00ff_ff00) | order.flag();
    match order {
        Order::Little => v.to_le_bytes(),
        Order::Big => v.to_be_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_group_name("wack").is_ok());
        assert!(check_group_name(&"g".repeat(31)).is_ok());
        assert_eq!(
            check_group_name(&"g".repeat(32)),
            Err(SpreadError::IllegalGroup)
        );
        assert_eq!(check_group_name(""), Err(SpreadError::IllegalGroup));
        assert_eq!(check_group_name("a b"), Err(SpreadError::IllegalGroup));
        assert_eq!(check_group_name("a#b"), Err(SpreadError::IllegalGroup));
        assert!(check_group_name("#wack1#cap").is_ok());
        assert!(check_private_name("").is_ok());
        assert!(check_private_name("wack1").is_ok());
        assert_eq!(
            check_private_name("elevenbytes"),
            Err(SpreadError::RejectIllegalName)
        );
        assert_eq!(
            check_private_name("a!"),
            Err(SpreadError::RejectIllegalName)
        );
        let mut v = Vec::new();
        put_name(&mut v, "wack");
        assert_eq!(v.len(), 32);
        assert_eq!(get_name(&v), "wack");
        assert_eq!(get_name(b"#a#b\0garbage"), "#a#b");
    }

    #[test]
    fn hint_words() {
        // Seen: mess_type 1 from x86 is 80 01 00 80.
        assert_eq!(hint_for(Order::Little, 1), [0x80, 0x01, 0x00, 0x80]);
        assert_eq!(hint_for(Order::Big, 1), [0x00, 0x00, 0x01, 0x00]);
        assert_eq!(hint_for(Order::Little, -1), [0x80, 0xff, 0xff, 0x80]);
    }

    #[test]
    fn group_id_displays_signed_like_spuser() {
        // spuser: "grp id is -417200669 1795561695 1"
        assert_eq!(
            GroupId([0xe722_05e3, 0x6b06_18df, 1]).to_string(),
            "-417200669:1795561695:1"
        );
    }
}
