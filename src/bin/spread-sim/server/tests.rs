//! The server without sockets: the library's client codec talks to it,
//! byte for byte, and what the server says back is decoded the same way.

use super::*;
use wackamole::spread::wire::handshake::{ClientHandshake, ClientStep};
use wackamole::spread::wire::message::{Cause, Decoder, Message};

fn server() -> Server {
    Server::new(World::new(&["d1", "d2"]), false)
}

/// The bytes sent to `conn`, in order; panics on any other action.
fn sent(actions: &[Action], conn: ConnId) -> Vec<u8> {
    let mut b = Vec::new();
    for a in actions {
        match a {
            Action::Send { conn: c, bytes } if *c == conn => b.extend_from_slice(bytes),
            Action::Send { .. } | Action::Log(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    b
}

/// Every message the bytes hold.
fn messages(bytes: &[u8]) -> Vec<Message> {
    let mut d = Decoder::new(5);
    d.feed(bytes);
    let mut v = Vec::new();
    while let Some(m) = d.next_message().unwrap() {
        v.push(m);
    }
    assert_eq!(d.pending(), 0, "no partial message left");
    v
}

/// A client's handshake on `daemon` as `conn`, to the open session;
/// returns its private group.
fn open(s: &mut Server, conn: ConnId, daemon: DaemonId, name: &str) -> String {
    s.accepted(conn, daemon);
    let mut hs = ClientHandshake::new();
    let mut reply = s.received(conn, &handshake::connect_request(name, true).unwrap());
    loop {
        hs.feed(&sent(&reply, conn));
        match hs.step().unwrap() {
            Some(ClientStep::Send(choice)) => reply = s.received(conn, &choice),
            Some(ClientStep::Accepted {
                daemon_version,
                private_group,
            }) => {
                assert_eq!(daemon_version, DAEMON_VERSION);
                return private_group;
            }
            None => panic!("the handshake stalled"),
        }
    }
}

fn join(s: &mut Server, conn: ConnId, private: &str, group: &str) -> Vec<Action> {
    s.received(conn, &request::join(Order::NATIVE, private, group).unwrap())
}

#[test]
fn a_handshake_opens_a_session_with_the_models_private_group() {
    let mut s = server();
    assert_eq!(open(&mut s, 1, 0, "wack1"), "#wack1#d1");
    assert_eq!(open(&mut s, 2, 1, "wack1"), "#wack1#d2");
    // An empty name: the model invents one.
    let p = open(&mut s, 3, 0, "");
    assert!(p.starts_with("#r") && p.ends_with("#d1"), "{p}");
}

/// The handshake refused with `code`: one byte, then close when sent.
fn refused(actions: &[Action], conn: ConnId, e: SpreadError) {
    assert_eq!(
        actions,
        [
            Action::Send {
                conn,
                bytes: vec![handshake::reject(e)]
            },
            Action::CloseWhenSent { conn }
        ]
    );
}

#[test]
fn refusals() {
    let mut s = server();
    let req = handshake::connect_request("wack1", true).unwrap();
    // In two pieces: the daemon's single recv sees a short request.
    s.accepted(1, 0);
    refused(&s.received(1, &req[..4]), 1, SpreadError::RejectIllegalName);
    assert_eq!(s.received(1, &req[4..]), [], "a refused connection is deaf");
    // With more behind it.
    s.accepted(2, 0);
    let mut more = req.clone();
    more.push(0);
    refused(&s.received(2, &more), 2, SpreadError::RejectIllegalName);
    // A 3.14 client (no patch byte): no auth step, refused.
    s.accepted(3, 0);
    refused(
        &s.received(3, &[3, 14, 1, 1, b'x']),
        3,
        SpreadError::RejectVersion,
    );
    // An auth choice other than NULL, or not whole.
    s.accepted(4, 0);
    assert_eq!(
        sent(&s.received(4, &req), 4),
        handshake::auth_list(&["NULL"])
    );
    let mut choice = handshake::null_auth_choice();
    choice[..4].copy_from_slice(b"IP\0\0");
    refused(&s.received(4, &choice), 4, SpreadError::RejectAuth);
    s.accepted(5, 0);
    s.received(5, &req);
    let choice = handshake::null_auth_choice();
    refused(&s.received(5, &choice[..89]), 5, SpreadError::RejectAuth);
    // A name in use on that daemon; free on the other.
    open(&mut s, 6, 0, "wack1");
    s.accepted(7, 0);
    s.received(7, &req);
    refused(&s.received(7, &choice), 7, SpreadError::RejectNotUnique);
    // A crashed daemon: as if nobody answered.
    s.crash(1);
    s.accepted(8, 1);
    s.received(8, &req);
    refused(&s.received(8, &choice), 8, SpreadError::ConnectionClosed);
}

#[test]
fn requests_reach_the_model_and_deliveries_come_back_encoded() {
    let mut s = server();
    let p1 = open(&mut s, 1, 0, "a");
    let p2 = open(&mut s, 2, 1, "b");
    let m = messages(&sent(&join(&mut s, 1, &p1, "wack"), 1));
    assert!(matches!(&m[..], [Message::Membership(m)] if m.cause == Cause::Join));
    let acts = join(&mut s, 2, &p2, "wack");
    for conn in [1, 2] {
        let m = messages(&sent(&acts, conn));
        let [Message::Membership(m)] = &m[..] else {
            panic!("{m:?}")
        };
        assert_eq!(m.members, [p1.clone(), p2.clone()]);
    }
    // A multicast and a join in one read: both handled, in order.
    let mut bytes =
        request::multicast(Order::NATIVE, &p2, service::AGREED, &["wack"], 7, b"hi").unwrap();
    bytes.extend(request::join(Order::NATIVE, &p2, "other").unwrap());
    let acts = s.received(2, &bytes);
    let to1 = messages(&sent(&acts, 1));
    let to2 = messages(&sent(&acts, 2));
    assert!(matches!(&to1[..], [Message::Data(d)] if d.data == b"hi" && d.sender == p2));
    assert!(matches!(
        &to2[..],
        [Message::Data(_), Message::Membership(_)]
    ));
    // A request split anywhere waits for its end.
    let leave = request::leave(Order::NATIVE, &p1, "wack").unwrap();
    assert_eq!(s.received(1, &leave[..50]), []);
    let acts = s.received(1, &leave[50..]);
    assert!(matches!(
        &messages(&sent(&acts, 1))[..],
        [Message::SelfLeave { .. }]
    ));
    assert!(matches!(
        &messages(&sent(&acts, 2))[..],
        [Message::Membership(m)] if m.cause == Cause::Leave
    ));
}

/// `conn`'s session ended: Close for it first, then the others hear a
/// DISCONNECT.
fn ended(acts: &[Action], conn: ConnId, others: ConnId) {
    assert_eq!(acts[0], Action::Close { conn });
    let m = messages(&sent(&acts[1..], others));
    assert!(
        matches!(&m[..], [Message::Membership(m)] if m.cause == Cause::Disconnect),
        "{m:?}"
    );
}

#[test]
fn a_session_ends_on_kill_eof_bad_requests_and_impostors() {
    let mut s = server();
    let p1 = open(&mut s, 1, 0, "a");
    join(&mut s, 1, &p1, "wack");
    let mut conn = 10;
    let mut next = |s: &mut Server| {
        conn += 1;
        let p = open(s, conn, 1, &format!("b{conn}"));
        join(s, conn, &p, "wack");
        (conn, p)
    };
    let (c, p) = next(&mut s);
    ended(&s.received(c, &request::kill(Order::NATIVE, &p)), c, 1);
    let (c, _) = next(&mut s);
    ended(&s.closed(c, "connection closed"), c, 1);
    let (c, p) = next(&mut s);
    let mut bad = request::kill(Order::NATIVE, &p);
    bad[0..4].copy_from_slice(&(service::JOIN | service::LEAVE).to_ne_bytes());
    ended(&s.received(c, &bad), c, 1);
    let (c, _) = next(&mut s);
    ended(&s.received(c, &request::kill(Order::NATIVE, &p1)), c, 1);
    // Gone for good; a closed connection that never opened is just closed.
    assert_eq!(s.received(c, b"more"), []);
    s.accepted(99, 0);
    assert_eq!(s.closed(99, "x"), [Action::Close { conn: 99 }]);
}

#[test]
fn a_crash_closes_its_sessions_and_tells_the_others() {
    let mut s = server();
    let p1 = open(&mut s, 1, 0, "a");
    let p2 = open(&mut s, 2, 1, "b");
    join(&mut s, 1, &p1, "wack");
    join(&mut s, 2, &p2, "wack");
    let acts = s.crash(1);
    assert_eq!(acts[0], Action::Close { conn: 2 });
    let m = messages(&sent(&acts[1..], 1));
    assert!(matches!(
        &m[..],
        [Message::Transition { .. }, Message::Membership(m)] if m.cause == Cause::Network
    ));
    assert_eq!(s.received(2, b"late"), []);
    assert!(s.restart(1).is_empty());
    assert!(s.heal().is_empty());
    assert!(s.partition(&[vec![0]]).is_err(), "d2 is in no component");
}

#[test]
fn verbose_logs_connections_requests_and_endings() {
    let mut s = Server::new(World::new(&["d1"]), true);
    let p = open(&mut s, 1, 0, "a");
    let acts = join(&mut s, 1, &p, "wack");
    assert!(acts.contains(&Action::Log("#a#d1: join wack".into())));
    let acts = s.closed(1, "connection closed");
    assert!(acts.contains(&Action::Log("#a#d1: connection closed".into())));
    s.accepted(2, 0);
    let acts = s.received(2, &[3, 14, 1, 1, b'x']);
    assert!(
        matches!(&acts[0], Action::Log(l) if l.starts_with("handshake refused: REJECT_VERSION"))
    );
}
