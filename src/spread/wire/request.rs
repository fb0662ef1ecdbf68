//! What a client sends after the handshake: multicast, join, leave and
//! kill. Encoding checks what the daemon would check (it closes the
//! session silently on any violation); decoding, for the test daemon,
//! applies those same checks.

use super::{
    check_group_name, hint_for, put_header, put_name, service, Order, RawHeader, HEADER_LEN,
    MAX_GROUP_NAME, MAX_REQUEST_DATA, MAX_REQUEST_DATA_WITH_GROUPS, MAX_REQUEST_GROUPS,
};
use crate::spread::error::SpreadError;

/// A multicast: exactly one data service (SELF_DISCARD may be added),
/// 1–100 destination groups, at most 144,000 bytes with the group names.
pub fn multicast(
    order: Order,
    sender: &str,
    service_type: u32,
    groups: &[&str],
    mess_type: i16,
    data: &[u8],
) -> Result<Vec<u8>, SpreadError> {
    let bits = service_type & service::REGULAR;
    if bits.count_ones() != 1 || service_type & !(service::REGULAR | service::SELF_DISCARD) != 0 {
        return Err(SpreadError::IllegalService);
    }
    if groups.is_empty() || groups.len() > MAX_REQUEST_GROUPS {
        return Err(SpreadError::IllegalGroup);
    }
    for g in groups {
        check_group_name(g)?;
    }
    if data.len() > MAX_REQUEST_DATA
        || data.len() + MAX_GROUP_NAME * groups.len() > MAX_REQUEST_DATA_WITH_GROUPS
    {
        return Err(SpreadError::MessageTooLong);
    }
    Ok(super::put_message(
        order,
        service_type,
        sender,
        groups.iter().copied(),
        hint_for(order, mess_type),
        data,
    ))
}

fn control(order: Order, kind: u32, sender: &str, group: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + MAX_GROUP_NAME);
    // No message type: the hint is the endian flag alone.
    put_header(&mut v, order, kind, sender, 1, hint_for(order, 0), 0);
    put_name(&mut v, group);
    v
}

pub fn join(order: Order, sender: &str, group: &str) -> Result<Vec<u8>, SpreadError> {
    check_group_name(group)?;
    Ok(control(order, service::JOIN, sender, group))
}

pub fn leave(order: Order, sender: &str, group: &str) -> Result<Vec<u8>, SpreadError> {
    check_group_name(group)?;
    Ok(control(order, service::LEAVE, sender, group))
}

/// Disconnect: the group slot names the sender's own private group.
pub fn kill(order: Order, sender: &str) -> Vec<u8> {
    control(order, service::KILL, sender, sender)
}

/// A request as the daemon reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Multicast {
        /// Service bits, SELF_DISCARD included, endian flag cleared.
        service_type: u32,
        groups: Vec<String>,
        /// Forwarded untouched to the receivers.
        hint: [u8; 4],
        data: Vec<u8>,
    },
    Join(String),
    Leave(String),
    Kill,
}

/// One request and its sender, with the number of bytes it took, or
/// `Ok(None)` when more bytes are needed. An `Err` is a request the
/// daemon would drop the session for.
pub fn parse(b: &[u8]) -> Result<Option<(String, Request, usize)>, SpreadError> {
    if b.len() < HEADER_LEN {
        return Ok(None);
    }
    let h = RawHeader::parse(b);
    let t = h.service_type();
    let ng = h.num_groups() as usize;
    let dl = h.data_len() as usize;
    let kinds = [service::JOIN, service::LEAVE, service::KILL];
    let data_bits = (t & service::REGULAR).count_ones();
    let kind_bits = kinds.iter().filter(|&&k| t & k != 0).count();
    if data_bits + kind_bits as u32 != 1 {
        return Err(SpreadError::IllegalService);
    }
    if ng > MAX_REQUEST_GROUPS {
        return Err(SpreadError::IllegalGroup);
    }
    if h.hint_order().get(h.hint) & !0x80ff_ff80 != 0 {
        return Err(SpreadError::IllegalMessage);
    }
    if dl > MAX_REQUEST_DATA || dl + MAX_GROUP_NAME * ng > MAX_REQUEST_DATA_WITH_GROUPS {
        return Err(SpreadError::MessageTooLong);
    }
    let total = HEADER_LEN + MAX_GROUP_NAME * ng + dl;
    if b.len() < total {
        return Ok(None);
    }
    let groups: Vec<String> = (0..ng)
        .map(|i| {
            let at = HEADER_LEN + MAX_GROUP_NAME * i;
            super::get_name(&b[at..at + MAX_GROUP_NAME])
        })
        .collect();
    let data = b[HEADER_LEN + MAX_GROUP_NAME * ng..total].to_vec();
    let one_group = || -> Result<String, SpreadError> {
        match groups.as_slice() {
            [g] => Ok(g.clone()),
            _ => Err(SpreadError::IllegalGroup),
        }
    };
    let req = if t & service::JOIN != 0 {
        Request::Join(one_group()?)
    } else if t & service::LEAVE != 0 {
        Request::Leave(one_group()?)
    } else if t & service::KILL != 0 {
        Request::Kill
    } else {
        Request::Multicast {
            service_type: t & (service::REGULAR | service::SELF_DISCARD),
            groups,
            hint: h.hint,
            data,
        }
    };
    Ok(Some((h.sender, req, total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    // From join-multicast-leave.txt (client A, x86).
    const JOIN: &str = "80000180237761636b3123636170000000000000000000000000000000000000000000000100000080000080000000007761636b00000000000000000000000000000000000000000000000000000000";
    const MCAST: &str = "a0000080237761636b3123636170000000000000000000000000000000000000000000000100000080010080100000007761636b00000000000000000000000000000000000000000000000000000000";

    #[test]
    fn join_as_seen() {
        assert_eq!(
            join(Order::Little, "#wack1#cap", "wack").unwrap(),
            hex(JOIN)
        );
        let (sender, req, n) = parse(&hex(JOIN)).unwrap().unwrap();
        assert_eq!(
            (sender.as_str(), req, n),
            ("#wack1#cap", Request::Join("wack".into()), 80)
        );
    }

    #[test]
    fn safe_multicast_as_seen() {
        let data = b"hello-wackamole\n";
        let mut want = hex(MCAST);
        want.extend_from_slice(data);
        assert_eq!(
            multicast(
                Order::Little,
                "#wack1#cap",
                service::SAFE,
                &["wack"],
                1,
                data
            )
            .unwrap(),
            want
        );
        let (_, req, n) = parse(&want).unwrap().unwrap();
        assert_eq!(n, want.len());
        assert_eq!(
            req,
            Request::Multicast {
                service_type: service::SAFE,
                groups: vec!["wack".into()],
                hint: [0x80, 0x01, 0x00, 0x80],
                data: data.to_vec()
            }
        );
    }

    #[test]
    fn big_endian_requests_parse_the_same() {
        let b = multicast(
            Order::Big,
            "#a#d",
            service::AGREED | service::SELF_DISCARD,
            &["g", "h"],
            7,
            b"xy",
        )
        .unwrap();
        let (sender, req, _) = parse(&b).unwrap().unwrap();
        assert_eq!(sender, "#a#d");
        let Request::Multicast {
            service_type,
            groups,
            hint,
            data,
        } = req
        else {
            panic!()
        };
        assert_eq!(service_type, service::AGREED | service::SELF_DISCARD);
        assert_eq!(groups, ["g", "h"]);
        assert_eq!(hint, [0, 0, 7, 0]);
        assert_eq!(data, b"xy");
        let (_, req, _) = parse(&leave(Order::Big, "#a#d", "g").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(req, Request::Leave("g".into()));
        let (_, req, _) = parse(&kill(Order::Big, "#a#d")).unwrap().unwrap();
        assert_eq!(req, Request::Kill);
    }

    #[test]
    fn kill_names_its_own_private_group() {
        let k = kill(Order::Little, "#wack1#cap");
        assert_eq!(&k[..4], [0x80, 0x00, 0x04, 0x80]);
        assert_eq!(&k[48..58], b"#wack1#cap");
    }

    #[test]
    fn encoding_enforces_the_daemon_rules() {
        let m = |s, g: &[&str], n| multicast(Order::Little, "#a#b", s, g, 0, &vec![0; n]);
        assert_eq!(
            m(service::AGREED | service::SAFE, &["g"], 0),
            Err(SpreadError::IllegalService)
        );
        assert_eq!(m(0, &["g"], 0), Err(SpreadError::IllegalService));
        assert_eq!(
            m(service::JOIN, &["g"], 0),
            Err(SpreadError::IllegalService)
        );
        assert_eq!(m(service::AGREED, &[], 0), Err(SpreadError::IllegalGroup));
        assert_eq!(
            m(service::AGREED, &["bad name"], 0),
            Err(SpreadError::IllegalGroup)
        );
        let many: Vec<&str> = vec!["g"; 101];
        assert_eq!(m(service::AGREED, &many, 0), Err(SpreadError::IllegalGroup));
        assert_eq!(
            m(service::AGREED, &["g"], 143_920),
            Ok(m(service::AGREED, &["g"], 143_920).unwrap())
        );
        assert_eq!(
            m(service::AGREED, &["g"], 143_921),
            Err(SpreadError::MessageTooLong)
        );
        assert_eq!(
            join(Order::Little, "#a#b", ""),
            Err(SpreadError::IllegalGroup)
        );
    }

    #[test]
    fn parsing_applies_the_daemon_rules() {
        let good = multicast(Order::Little, "#a#b", service::FIFO, &["g"], 0, b"").unwrap();
        // Two service bits.
        let mut b = good.clone();
        b[0] |= 0x10;
        assert_eq!(parse(&b), Err(SpreadError::IllegalService));
        // 101 groups.
        let mut b = good.clone();
        b[36] = 101;
        assert_eq!(parse(&b), Err(SpreadError::IllegalGroup));
        // Stray hint bits.
        let mut b = good.clone();
        b[40] |= 0x01;
        assert_eq!(parse(&b), Err(SpreadError::IllegalMessage));
        // Too much data.
        let mut b = good.clone();
        b[44..48].copy_from_slice(&144_001u32.to_le_bytes());
        assert_eq!(parse(&b), Err(SpreadError::MessageTooLong));
        // Incomplete: wait.
        assert_eq!(parse(&good[..47]), Ok(None));
        assert_eq!(parse(&good[..good.len() - 1]), Ok(None));
        // A join naming two groups.
        let mut b = join(Order::Little, "#a#b", "g").unwrap();
        b[36] = 2;
        b.extend_from_slice(&[0u8; 32]);
        assert_eq!(parse(&b), Err(SpreadError::IllegalGroup));
    }
}
