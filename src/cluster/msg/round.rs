//! The two messages with which Rust nodes close a state exchange that a
//! silent member would hold open (not in C, which ignores message types
//! it does not know):
//! - HELLO, sent just before the STATE of every view: "I close rounds",
//!   with the members this node knows to be C nodes (which do not);
//! - CLOSE, sent by a participant whose round stayed open past the
//!   bound: "the round of this view ends here".
//!
//! HELLO ends with the sender's VIF list (the master addresses of its
//! configuration, in order), and VIFS carries a new one after a reload,
//! so that Rust nodes give a VIF only to a member that has it (see the
//! engine's `vifs`). A HELLO without the list (an older Rust node) is
//! read as "has every VIF".
//!
//! Layout: integers in the sender's byte order, as STATE; names as 32
//! bytes, NUL-padded (Spread's MAX_GROUP_NAME); addresses as 4 bytes in
//! network order, as in STATE.

use std::net::Ipv4Addr;

use super::{put_int, MsgError, Reader};

/// Bytes of one member name on the wire.
pub const NAME_LEN: usize = 32;

/// HELLO: the sender closes rounds; `c_members` are members of this view
/// it has seen send a STATE without a HELLO (C nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub group_id: [u32; 3],
    pub c_members: Vec<String>,
    /// The sender's VIFs by master address; `None` from a node that
    /// does not send them.
    pub vifs: Option<Vec<Ipv4Addr>>,
}

/// VIFS: the sender's VIF list changed (a reload) in view `group_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vifs {
    pub group_id: [u32; 3],
    pub vifs: Vec<Ipv4Addr>,
}

/// CLOSE: the round of view `group_id` ends at this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub group_id: [u32; 3],
}

fn put_id(v: &mut Vec<u8>, id: [u32; 3]) {
    for w in id {
        put_int(v, w as i32);
    }
}

fn id(r: &mut Reader<'_>) -> Result<[u32; 3], MsgError> {
    Ok([r.u32()?, r.u32()?, r.u32()?])
}

fn put_vifs(v: &mut Vec<u8>, vifs: &[Ipv4Addr]) {
    put_int(v, vifs.len() as i32);
    for a in vifs {
        v.extend_from_slice(&a.octets());
    }
}

fn vifs(r: &mut Reader<'_>) -> Result<Vec<Ipv4Addr>, MsgError> {
    let n = r.count("VIF", 4)?;
    (0..n).map(|_| r.addr()).collect()
}

impl Hello {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + NAME_LEN * self.c_members.len());
        put_id(&mut v, self.group_id);
        // Names that do not fit are not Spread names: none are sent.
        let names: Vec<&String> = (self.c_members.iter())
            .filter(|n| !n.is_empty() && n.len() < NAME_LEN)
            .collect();
        put_int(&mut v, names.len() as i32);
        for n in names {
            let mut b = [0u8; NAME_LEN];
            b[..n.len()].copy_from_slice(n.as_bytes());
            v.extend_from_slice(&b);
        }
        if let Some(vifs) = &self.vifs {
            put_vifs(&mut v, vifs);
        }
        v
    }

    pub fn decode(b: &[u8], swap: bool) -> Result<Hello, MsgError> {
        let mut r = Reader { b, at: 0, swap };
        let group_id = id(&mut r)?;
        let n = r.count("name", NAME_LEN)?;
        let mut c_members = Vec::with_capacity(n);
        for _ in 0..n {
            let raw = &b[r.at..r.at + NAME_LEN];
            r.at += NAME_LEN;
            let end = raw.iter().position(|&c| c == 0).unwrap_or(NAME_LEN);
            c_members.push(String::from_utf8_lossy(&raw[..end]).into_owned());
        }
        let vifs = if r.at == b.len() {
            None
        } else {
            Some(vifs(&mut r)?)
        };
        Ok(Hello {
            group_id,
            c_members,
            vifs,
        })
    }
}

impl Vifs {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16 + 4 * self.vifs.len());
        put_id(&mut v, self.group_id);
        put_vifs(&mut v, &self.vifs);
        v
    }

    pub fn decode(b: &[u8], swap: bool) -> Result<Vifs, MsgError> {
        let mut r = Reader { b, at: 0, swap };
        Ok(Vifs {
            group_id: id(&mut r)?,
            vifs: vifs(&mut r)?,
        })
    }
}

impl Close {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(12);
        put_id(&mut v, self.group_id);
        v
    }

    pub fn decode(b: &[u8], swap: bool) -> Result<Close, MsgError> {
        let mut r = Reader { b, at: 0, swap };
        Ok(Close {
            group_id: id(&mut r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trips_in_either_byte_order() {
        let h = Hello {
            group_id: [1, 0xffff_fffe, 3],
            c_members: vec!["#wack123#tb1".into(), "#c#d2".into()],
            vifs: None,
        };
        let b = h.encode();
        assert_eq!(b.len(), 16 + 2 * NAME_LEN);
        assert_eq!(Hello::decode(&b, false).unwrap(), h);
        // From a host of the other byte order.
        let mut swapped = b.clone();
        for w in swapped[..16].chunks_mut(4) {
            w.reverse();
        }
        assert_eq!(Hello::decode(&swapped, true).unwrap(), h);
        let none = Hello {
            group_id: [1, 2, 3],
            c_members: vec![],
            vifs: None,
        };
        assert_eq!(Hello::decode(&none.encode(), false).unwrap(), none);
    }

    #[test]
    fn vif_lists_round_trip_in_hello_and_vifs() {
        let list = vec![Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(10, 9, 8, 7)];
        let h = Hello {
            group_id: [1, 2, 3],
            c_members: vec!["#c#d2".into()],
            vifs: Some(list.clone()),
        };
        let b = h.encode();
        assert_eq!(b.len(), 16 + NAME_LEN + 4 + 8);
        assert_eq!(Hello::decode(&b, false).unwrap(), h);
        // An older node's HELLO is its prefix: read as "no list".
        let old = Hello::decode(&b[..16 + NAME_LEN], false).unwrap();
        assert_eq!(old.vifs, None);
        for cut in 16 + NAME_LEN + 1..b.len() {
            assert!(Hello::decode(&b[..cut], false).is_err(), "{cut}");
        }
        let empty = Hello {
            vifs: Some(vec![]),
            ..h
        };
        assert_eq!(Hello::decode(&empty.encode(), false).unwrap(), empty);
        let v = Vifs {
            group_id: [4, 5, 6],
            vifs: list,
        };
        let b = v.encode();
        assert_eq!(Vifs::decode(&b, false).unwrap(), v);
        let mut swapped = b.clone();
        for w in swapped[..16].chunks_mut(4) {
            w.reverse();
        }
        assert_eq!(Vifs::decode(&swapped, true).unwrap(), v);
        for cut in 0..b.len() {
            assert!(Vifs::decode(&b[..cut], false).is_err(), "{cut}");
        }
    }

    #[test]
    fn bad_hellos_and_closes_are_errors_not_panics() {
        let h = Hello {
            group_id: [1, 2, 3],
            c_members: vec!["#a#b".into()],
            vifs: None,
        }
        .encode();
        for cut in 0..h.len() {
            assert!(Hello::decode(&h[..cut], false).is_err(), "{cut}");
        }
        let mut lying = h.clone();
        lying[12..16].copy_from_slice(&1000i32.to_ne_bytes());
        assert!(Hello::decode(&lying, false).is_err());
        lying[12..16].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(Hello::decode(&lying, false).is_err());
        let c = Close {
            group_id: [4, 5, 6],
        };
        assert_eq!(Close::decode(&c.encode(), false).unwrap(), c);
        assert!(Close::decode(&c.encode()[..11], false).is_err());
        // A name too long for Spread is not sent.
        let long = Hello {
            group_id: [1, 2, 3],
            c_members: vec!["x".repeat(40)],
            vifs: None,
        };
        assert!(Hello::decode(&long.encode(), false)
            .unwrap()
            .c_members
            .is_empty());
    }
}
