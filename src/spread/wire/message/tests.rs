//! Golden tests: every daemon → client message of the real Spread 5.0.1
//! captures decodes, and re-encodes to the same bytes; every client →
//! daemon request of the C library is what this library writes.

use super::super::capture::{self, Stream};
use super::super::handshake::{self, ClientHandshake, ClientStep};
use super::super::request::{self, Request};
use super::super::{service, GroupId, Order};
use super::*;
use crate::spread::error::SpreadError;

struct Session {
    private_group: String,
    messages: Vec<Message>,
    /// The daemon's bytes of each message, for re-encoding.
    raw: Vec<Vec<u8>>,
}

/// Runs a client's received stream through the handshake and decoder,
/// fed `chunk` bytes at a time.
fn decode(stream: &[u8], chunk: usize) -> Result<Session, SpreadError> {
    let mut h = ClientHandshake::new();
    let mut accepted = None;
    let mut at = 0;
    while accepted.is_none() {
        if at >= stream.len() {
            return Err(SpreadError::ConnectionClosed);
        }
        let end = (at + chunk).min(stream.len());
        h.feed(&stream[at..end]);
        at = end;
        while let Some(step) = h.step()? {
            if let ClientStep::Accepted {
                daemon_version,
                private_group,
            } = step
            {
                accepted = Some((daemon_version, private_group));
            }
        }
    }
    let (version, private_group) = accepted.expect("accepted");
    let leftover = h.leftover();
    let body_start = at - leftover.len();
    let mut d = Decoder::new(version.0);
    let mut messages = Vec::new();
    let mut raw = Vec::new();
    let mut consumed = body_start;
    let mut fed = body_start;
    while fed < stream.len() {
        let end = (fed + chunk).min(stream.len());
        d.feed(&stream[fed..end]);
        fed = end;
        while let Some(m) = d.next_message()? {
            let before = consumed;
            consumed = fed - d.pending();
            raw.push(stream[before..consumed].to_vec());
            messages.push(m);
        }
    }
    assert_eq!(d.pending(), 0, "bytes left over");
    Ok(Session {
        private_group,
        messages,
        raw,
    })
}

fn client(text: &str, label: &str) -> Stream {
    capture::streams(text)
        .into_iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no client {label}"))
        .1
}

fn membership(m: &Message) -> &Membership {
    match m {
        Message::Membership(m) => m,
        other => panic!("not a membership: {other:?}"),
    }
}

/// What a daemon would write for this message.
fn reencode(m: &Message) -> Vec<u8> {
    let o = Order::Little;
    match m {
        Message::Data(d) => encode_data(
            o,
            d.service_type,
            &d.sender,
            &d.groups,
            super::super::hint_for(o, d.mess_type),
            &d.data,
        ),
        Message::Membership(m) => encode_membership(o, m),
        Message::Transition { group, group_id } => encode_transition(o, group, *group_id),
        Message::SelfLeave { group } => encode_self_leave(o, group),
        Message::Reject(d) => encode_reject(o, d, super::super::hint_for(o, d.mess_type)),
    }
}

fn check_reencoding(s: &Session) {
    for (m, raw) in s.messages.iter().zip(&s.raw) {
        assert_eq!(&reencode(m), raw, "re-encoding {m:?}");
    }
}

#[test]
fn join_multicast_leave_client_a() {
    let a = decode(&client(capture::JOIN_MULTICAST_LEAVE, "A").to_client, 4096).unwrap();
    assert_eq!(a.private_group, "#wack1#cap");
    assert_eq!(a.messages.len(), 4);
    let m = membership(&a.messages[0]);
    assert_eq!(m.group, "wack");
    assert_eq!(m.cause, Cause::Join);
    assert_eq!(m.members, ["#wack1#cap"]);
    assert_eq!(m.group_id.to_string(), "-417200669:1795561695:1");
    assert_eq!(m.vs_sets, [["#wack1#cap"]]);
    assert_eq!(m.index_of("#wack1#cap"), Some(0));
    let m = membership(&a.messages[1]);
    assert_eq!(m.members, ["#wack1#cap", "#wack2#cap"]);
    assert_eq!(m.group_id, GroupId([0xe722_05e3, 0x6b06_18df, 2]));
    assert_eq!(m.vs_sets, [["#wack2#cap"]]);
    let Message::Data(d) = &a.messages[2] else {
        panic!("{:?}", a.messages[2])
    };
    assert_eq!(d.service_type, service::SAFE);
    assert_eq!(d.sender, "#wack1#cap");
    assert_eq!(d.groups, ["wack"]);
    assert_eq!(d.mess_type, 1);
    assert!(!d.endian_mismatch);
    assert_eq!(d.data, b"hello-wackamole\n");
    let m = membership(&a.messages[3]);
    assert_eq!(m.cause, Cause::Leave);
    assert_eq!(m.members, ["#wack1#cap"]);
    assert_eq!(m.vs_sets, [["#wack2#cap"]]);
    check_reencoding(&a);
}

#[test]
fn join_multicast_leave_client_b_gets_the_self_leave() {
    let b = decode(&client(capture::JOIN_MULTICAST_LEAVE, "B").to_client, 4096).unwrap();
    assert_eq!(b.messages.len(), 3);
    assert_eq!(membership(&b.messages[0]).index_of("#wack2#cap"), Some(1));
    assert!(matches!(b.messages[1], Message::Data(_)));
    assert_eq!(
        b.messages[2],
        Message::SelfLeave {
            group: "wack".into()
        }
    );
    check_reencoding(&b);
}

#[test]
fn partition_and_merge() {
    let s = decode(&client(capture::PARTITION_MERGE, "-").to_client, 4096).unwrap();
    assert_eq!(s.private_group, "#wack1#tb1");
    assert_eq!(s.messages.len(), 5);
    assert_eq!(
        s.messages[2],
        Message::Transition {
            group: "wack".into(),
            group_id: membership(&s.messages[1]).group_id
        }
    );
    let lost = membership(&s.messages[3]);
    assert_eq!((lost.cause, lost.members.len()), (Cause::Network, 1));
    assert_eq!(lost.group_id.0[2], 1, "a new view id restarts the counter");
    let merged = membership(&s.messages[4]);
    assert_eq!(merged.cause, Cause::Network);
    assert_eq!(merged.members, ["#wack1#tb1", "#wack2#tb2"]);
    assert_eq!(merged.vs_sets, [vec!["#wack2#tb2"], vec!["#wack1#tb1"]]);
    assert_eq!(merged.local_vs_set, 1, "offset 0x24 points at VS set 1");
    check_reencoding(&s);
}

#[test]
fn agreed_with_mess_type_7() {
    for label in ["A", "B"] {
        let s = decode(&client(capture::AGREED7, label).to_client, 4096).unwrap();
        let d = s
            .messages
            .iter()
            .find_map(|m| match m {
                Message::Data(d) => Some(d),
                _ => None,
            })
            .expect("a data message");
        assert_eq!((d.service_type, d.mess_type), (service::AGREED, 7));
        assert_eq!(d.data, b"wackamole-type7!");
        assert_eq!(d.sender, "#wack1#localhost");
        check_reencoding(&s);
    }
}

#[test]
fn disconnect_and_duplicate_name() {
    let streams = capture::streams(capture::DISCONNECT_DUPNAME);
    let labels: Vec<&str> = streams.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["A", "B", "C"]);
    let c = decode(&client(capture::DISCONNECT_DUPNAME, "C").to_client, 1);
    assert_eq!(c.err(), Some(SpreadError::RejectNotUnique));
    let b = decode(&client(capture::DISCONNECT_DUPNAME, "B").to_client, 4096).unwrap();
    let last = membership(b.messages.last().unwrap());
    assert_eq!(last.cause, Cause::Disconnect);
    assert_eq!(last.members, ["#wack2#localhost"]);
    assert_eq!(last.vs_sets, [["#wack1#localhost"]]);
    check_reencoding(&b);
}

/// The daemon writes the accept reply one byte at a time: any split of
/// any stream must decode the same.
#[test]
fn every_split_decodes_the_same() {
    for text in [
        capture::JOIN_MULTICAST_LEAVE,
        capture::PARTITION_MERGE,
        capture::AGREED7,
    ] {
        for (label, s) in capture::streams(text) {
            let whole = decode(&s.to_client, usize::MAX / 2).unwrap().messages;
            for chunk in [1, 2, 3, 7, 47, 48, 49, 100] {
                let split = decode(&s.to_client, chunk).unwrap().messages;
                assert_eq!(split, whole, "client {label}, chunks of {chunk}");
            }
        }
    }
}

/// What the C library sent is what this library sends.
#[test]
fn client_requests_match_the_c_library() {
    for (text, label, name) in [
        (capture::JOIN_MULTICAST_LEAVE, "A", "wack1"),
        (capture::JOIN_MULTICAST_LEAVE, "B", "wack2"),
        (capture::AGREED7, "A", "wack1"),
        (capture::AGREED7, "B", "wack2"),
        (capture::PARTITION_MERGE, "-", "wack1"),
    ] {
        let s = client(text, label);
        let sent = &s.to_daemon;
        let connect = handshake::connect_request(name, true).unwrap();
        assert_eq!(&sent[..connect.len()], connect, "{label}: connect");
        let mut at = connect.len();
        assert_eq!(
            &sent[at..at + handshake::AUTH_CHOICE_LEN],
            handshake::null_auth_choice(),
            "{label}: auth choice"
        );
        at += handshake::AUTH_CHOICE_LEN;
        let me = decode(&s.to_client, 4096).unwrap().private_group;
        let mut kinds = Vec::new();
        while at < sent.len() {
            let (sender, req, n) = request::parse(&sent[at..]).unwrap().expect("whole request");
            assert_eq!(sender, me);
            let o = Order::Little;
            let mine = match &req {
                Request::Join(g) => request::join(o, &me, g).unwrap(),
                Request::Leave(g) => request::leave(o, &me, g).unwrap(),
                Request::Kill => request::kill(o, &me),
                Request::Multicast {
                    service_type,
                    groups,
                    hint,
                    data,
                } => {
                    let gs: Vec<&str> = groups.iter().map(String::as_str).collect();
                    let t = super::super::RawHeader::parse(&sent[at..]).mess_type();
                    let v = request::multicast(o, &me, *service_type, &gs, t, data).unwrap();
                    assert_eq!(&v[40..44], hint);
                    v
                }
            };
            let theirs = &sent[at..at + n];
            if matches!(req, Request::Kill) {
                // C sends uninitialised bytes after the name's NUL.
                let name_end = 48 + me.len() + 1;
                assert_eq!(&mine[..name_end], &theirs[..name_end], "{label}: kill");
            } else {
                assert_eq!(mine, theirs, "{label}: {req:?}");
            }
            kinds.push(req);
            at += n;
        }
        assert!(
            kinds.iter().any(|k| matches!(k, Request::Join(_))),
            "{label}"
        );
        assert!(matches!(kinds.last(), Some(Request::Kill)), "{label}");
    }
}

#[test]
fn foreign_byte_order_is_swapped() {
    let m = Membership {
        group: "g".into(),
        cause: Cause::Network,
        group_id: GroupId([1, 0x0102_0304, 3]),
        members: vec!["#a#d1".into(), "#b#d2".into()],
        vs_sets: vec![vec!["#b#d2".into()], vec!["#a#d1".into()]],
        local_vs_set: 1,
    };
    for order in [Order::Big, Order::Little] {
        let mut d = Decoder::new(5);
        d.feed(&encode_membership(order, &m));
        d.feed(&encode_transition(order, "g", GroupId([7, 8, 9])));
        d.feed(&encode_data(
            order,
            service::AGREED,
            "#a#d1",
            &["g".into()],
            super::super::hint_for(order, -2),
            b"x",
        ));
        assert_eq!(
            d.next_message().unwrap(),
            Some(Message::Membership(m.clone()))
        );
        assert_eq!(
            d.next_message().unwrap(),
            Some(Message::Transition {
                group: "g".into(),
                group_id: GroupId([7, 8, 9])
            })
        );
        let Some(Message::Data(x)) = d.next_message().unwrap() else {
            panic!()
        };
        assert_eq!(x.mess_type, -2);
        assert_eq!(x.endian_mismatch, order != Order::NATIVE);
        assert_eq!(d.next_message().unwrap(), None);
    }
}

#[test]
fn a_data_message_keeps_the_senders_hint_order() {
    // A big-endian sender's message relayed by a little-endian daemon.
    let mut d = Decoder::new(5);
    d.feed(&encode_data(
        Order::Little,
        service::AGREED,
        "#a#d",
        &["g".into()],
        super::super::hint_for(Order::Big, 3),
        b"",
    ));
    let Some(Message::Data(x)) = d.next_message().unwrap() else {
        panic!()
    };
    assert_eq!(x.mess_type, 3);
    assert_eq!(x.endian_mismatch, Order::NATIVE != Order::Big);
}

#[test]
fn reject_messages() {
    let original = DataMessage {
        service_type: service::AGREED | service::SELF_DISCARD,
        sender: "#a#d".into(),
        groups: vec!["g".into(), "#a#d".into()],
        mess_type: 5,
        endian_mismatch: false,
        data: b"payload".to_vec(),
    };
    let bytes = encode_reject(
        Order::Little,
        &original,
        super::super::hint_for(Order::Little, 5),
    );
    let mut d = Decoder::new(5);
    d.feed(&bytes);
    let Some(Message::Reject(r)) = d.next_message().unwrap() else {
        panic!()
    };
    assert_eq!(
        r.service_type,
        service::AGREED | service::SELF_DISCARD | service::REJECT
    );
    assert_eq!(r.groups, original.groups);
    assert_eq!(r.data, original.data);
    assert_eq!(r.mess_type, 5);
}

#[test]
fn spread_3_membership_body() {
    // 3.x: group id, then one VS set (count + names), no set count or offset.
    let mut body = Vec::new();
    for w in [5u32, 6, 7, 1] {
        body.extend_from_slice(&w.to_le_bytes());
    }
    super::super::put_name(&mut body, "#a#d");
    let bytes = encode_data(
        Order::Little,
        service::REG_MEMB | service::CAUSED_BY_JOIN,
        "g",
        &["#a#d".into()],
        super::super::hint_for(Order::Little, 0),
        &body,
    );
    let mut d = Decoder::new(3);
    d.feed(&bytes);
    let m = membership(&d.next_message().unwrap().unwrap()).clone();
    assert_eq!(
        (m.group_id, m.vs_sets, m.local_vs_set),
        (GroupId([5, 6, 7]), vec![vec!["#a#d".to_string()]], 0)
    );
}

#[test]
fn malformed_messages_are_errors_not_panics() {
    let good = encode_membership(
        Order::Little,
        &Membership {
            group: "g".into(),
            cause: Cause::Join,
            group_id: GroupId([1, 2, 3]),
            members: vec!["#a#d".into()],
            vs_sets: vec![vec!["#a#d".into()]],
            local_vs_set: 0,
        },
    );
    let set_len = |b: &mut Vec<u8>, dl: u32| b[44..48].copy_from_slice(&dl.to_le_bytes());
    // A body too short for its VS set.
    let mut b = good.clone();
    let n = b.len();
    b.truncate(n - 4);
    set_len(&mut b, (n - 4 - 48 - 32) as u32);
    let mut d = Decoder::new(5);
    d.feed(&b);
    assert_eq!(d.next_message(), Err(SpreadError::IllegalMessage));
    // Absurd VS set count.
    let mut b = good.clone();
    b[48 + 32 + 12..48 + 32 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut d = Decoder::new(5);
    d.feed(&b);
    assert_eq!(d.next_message(), Err(SpreadError::IllegalMessage));
    // A local offset that is no set boundary.
    let mut b = good.clone();
    b[48 + 32 + 16] = 3;
    let mut d = Decoder::new(5);
    d.feed(&b);
    assert_eq!(d.next_message(), Err(SpreadError::IllegalMessage));
    // Two causes.
    let mut b = good.clone();
    b[1] |= 0x02;
    let mut d = Decoder::new(5);
    d.feed(&b);
    assert_eq!(d.next_message(), Err(SpreadError::IllegalMessage));
    // A huge length is refused before buffering.
    let mut b = good.clone();
    set_len(&mut b, u32::MAX);
    let mut d = Decoder::new(5);
    d.feed(&b[..48]);
    assert_eq!(d.next_message(), Err(SpreadError::IllegalMessage));
    // Random garbage never panics.
    let mut x: u64 = 0x1234_5678;
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % bytes.len();
            bytes[i] = (x >> 32) as u8;
        }
        let mut d = Decoder::new(if x & 1 == 0 { 5 } else { 3 });
        d.feed(&bytes);
        let _ = d.next_message();
    }
}
