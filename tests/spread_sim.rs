//! The Spread client against `spread-sim`, the test double: join, leave,
//! disconnect, partition, merge, daemon crash and reconnect, run through
//! the real binaries over Unix sockets and TCP.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::scratch::Scratch;
use common::spread_sim;

use mio::{Events, Interest, Poll, Token};
use wackamole::spread::addr::SpreadAddr;
use wackamole::spread::client::Client;
use wackamole::spread::error::SpreadError;
use wackamole::spread::wire::message::{Cause, Membership, Message};
use wackamole::spread::wire::service;

const WAIT: Duration = Duration::from_secs(10);

/// A running spread-sim with daemons d1..dN, killed and cleaned on drop.
struct Sim {
    child: Child,
    // Dropped after the child is killed (see Drop).
    dir: Scratch,
}

impl Sim {
    fn start(tag: &str, daemons: usize) -> Sim {
        let dir = Scratch::new(&format!("wackamole-sim-{tag}"));
        let child = spread_sim::start(&dir.0, daemons, &dir.join("ctl"), Stdio::null());
        Sim { child, dir }
    }

    fn addr(&self, daemon: usize) -> SpreadAddr {
        SpreadAddr::Unix {
            path: spread_sim::daemon_socket(&self.dir.0, daemon),
        }
    }

    fn connect(&self, daemon: usize, name: &str) -> Client {
        Client::connect(&self.addr(daemon), name, true, WAIT).expect("connect")
    }

    fn ctl(&self, command: &str) -> String {
        spread_sim::ctl(&self.dir.join("ctl"), command)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next message for `c`, waiting at most WAIT.
fn recv(c: &mut Client) -> Message {
    try_recv(c, WAIT).unwrap_or_else(|| panic!("{}: nothing within {WAIT:?}", c.private_group()))
}

fn try_recv(c: &mut Client, wait: Duration) -> Option<Message> {
    let deadline = Instant::now() + wait;
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(c.socket(), Token(0), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(4);
    let got = loop {
        if let Some(m) = c.receive().expect("receive") {
            break Some(m);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break None;
        }
        poll.poll(&mut events, Some(left)).unwrap();
    };
    poll.registry().deregister(c.socket()).unwrap();
    got
}

fn membership(c: &mut Client) -> Membership {
    match recv(c) {
        Message::Membership(m) => m,
        other => panic!(
            "{}: expected a membership, got {other:?}",
            c.private_group()
        ),
    }
}

/// Client "a" on daemon `da` and "b" on daemon `db`, both members of
/// group "g", their join memberships read.
fn two_in_g(sim: &Sim, da: usize, db: usize) -> (Client, Client) {
    let mut a = sim.connect(da, "a");
    let mut b = sim.connect(db, "b");
    a.join("g").unwrap();
    membership(&mut a);
    b.join("g").unwrap();
    membership(&mut a);
    membership(&mut b);
    (a, b)
}

fn names(m: &Membership) -> Vec<&str> {
    m.members.iter().map(String::as_str).collect()
}

#[test]
fn join_order_multicast_and_leave() {
    let sim = Sim::start("join", 2);
    // Member order: daemon first, then name; "zed" on d1 comes first.
    let mut b = sim.connect(2, "alice");
    let mut a = sim.connect(1, "zed");
    assert_eq!(a.private_group(), "#zed#d1");
    b.join("wack").unwrap();
    let m = membership(&mut b);
    assert_eq!((m.cause, names(&m)), (Cause::Join, vec!["#alice#d2"]));
    let first_id = m.group_id;
    a.join("wack").unwrap();
    for (c, index) in [(&mut a, 0), (&mut b, 1)] {
        let m = membership(c);
        assert_eq!(m.cause, Cause::Join);
        assert_eq!(names(&m), ["#zed#d1", "#alice#d2"]);
        assert_eq!(m.index_of(c.private_group()), Some(index));
        assert_eq!(m.vs_sets, [["#zed#d1"]]);
        // Same view id, counter up by one.
        assert_eq!(m.group_id.0[..2], first_id.0[..2]);
        assert_eq!(m.group_id.0[2], first_id.0[2] + 1);
    }
    // Every member, the sender too, gets a multicast, in one order.
    a.multicast(service::AGREED, &["wack"], 1, b"one").unwrap();
    b.multicast(service::AGREED, &["wack"], 2, b"two").unwrap();
    let seq = |c: &mut Client| -> Vec<(String, i16)> {
        (0..2)
            .map(|_| match recv(c) {
                Message::Data(d) => (d.sender, d.mess_type),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(seq(&mut a), seq(&mut b));
    // Leave: the leaver gets its self-leave, the other a LEAVE.
    b.leave("wack").unwrap();
    assert_eq!(
        recv(&mut b),
        Message::SelfLeave {
            group: "wack".into()
        }
    );
    let m = membership(&mut a);
    assert_eq!((m.cause, names(&m)), (Cause::Leave, vec!["#zed#d1"]));
    assert_eq!(m.vs_sets, [["#alice#d2"]]);
}

#[test]
fn self_discard_and_unicast() {
    let sim = Sim::start("discard", 1);
    let (mut a, mut b) = two_in_g(&sim, 1, 1);
    a.multicast(service::FIFO | service::SELF_DISCARD, &["g"], 3, b"x")
        .unwrap();
    assert!(matches!(recv(&mut b), Message::Data(d) if d.mess_type == 3));
    assert_eq!(try_recv(&mut a, Duration::from_millis(200)), None);
    // A private group as destination is a unicast.
    a.multicast(service::RELIABLE, &["#b#d1"], 4, b"y").unwrap();
    assert!(matches!(recv(&mut b), Message::Data(d) if d.mess_type == 4 && d.groups == ["#b#d1"]));
    assert_eq!(try_recv(&mut a, Duration::from_millis(200)), None);
}

#[test]
fn disconnect_and_a_reused_name() {
    let sim = Sim::start("disc", 2);
    let (mut a, b) = two_in_g(&sim, 1, 1);
    // The name is taken on d1, but free on d2.
    let e = Client::connect(&sim.addr(1), "b", true, WAIT).unwrap_err();
    assert_eq!(e.code, SpreadError::RejectNotUnique);
    let other = sim.connect(2, "b");
    assert_eq!(other.private_group(), "#b#d2");
    // A closed socket is a DISCONNECT; so is a clean one.
    drop(b);
    let m = membership(&mut a);
    assert_eq!((m.cause, names(&m)), (Cause::Disconnect, vec!["#a#d1"]));
    assert_eq!(m.vs_sets, [["#b#d1"]]);
    // The name is free again.
    let b2 = sim.connect(1, "b");
    b2.disconnect();
}

#[test]
fn partition_and_merge() {
    let sim = Sim::start("part", 3);
    let mut c: Vec<Client> = (1..=3).map(|i| sim.connect(i, &format!("n{i}"))).collect();
    let mut before = None;
    for i in 0..3 {
        c[i].join("wack").unwrap();
        for client in c.iter_mut().take(i + 1) {
            before = Some(membership(client).group_id);
        }
    }
    let before = before.unwrap();
    sim.ctl("partition d1 | d2 d3");
    // Each side: a transitional view, then the survivors.
    for (i, want) in [
        (0, vec!["#n1#d1"]),
        (1, vec!["#n2#d2", "#n3#d3"]),
        (2, vec!["#n2#d2", "#n3#d3"]),
    ] {
        assert!(matches!(recv(&mut c[i]), Message::Transition { .. }));
        let m = membership(&mut c[i]);
        assert_eq!((m.cause, names(&m)), (Cause::Network, want));
        assert_ne!(m.group_id, before);
    }
    sim.ctl("heal");
    // The merge: no transitional, one VS set per former component, the
    // local one differing per side.
    let mut ids = Vec::new();
    for (i, local) in [(0, 0), (1, 1), (2, 1)] {
        let m = membership(&mut c[i]);
        assert_eq!(m.cause, Cause::Network);
        assert_eq!(names(&m), ["#n1#d1", "#n2#d2", "#n3#d3"]);
        assert_eq!(
            m.vs_sets,
            [
                vec!["#n1#d1".to_string()],
                vec!["#n2#d2".to_string(), "#n3#d3".to_string()]
            ]
        );
        assert_eq!(m.local_vs_set, local);
        ids.push(m.group_id);
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one view, one id");
    let groups = sim.ctl("groups");
    assert!(groups.contains("wack"), "{groups}");
}

#[test]
fn a_daemon_crash_and_restart() {
    let sim = Sim::start("crash", 2);
    let (mut a, mut b) = two_in_g(&sim, 1, 2);
    sim.ctl("crash d2");
    assert!(sim.ctl("daemons").contains("d2 down "));
    // b's connection drops; a sees a network change, never DISCONNECT.
    let deadline = Instant::now() + WAIT;
    loop {
        match b.receive() {
            Err(e) => {
                assert_eq!(e.code, SpreadError::ConnectionClosed);
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "b still connected"),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(recv(&mut a), Message::Transition { .. }));
    let m = membership(&mut a);
    assert_eq!((m.cause, names(&m)), (Cause::Network, vec!["#a#d1"]));
    // A dead daemon takes no connections.
    let e = Client::connect(&sim.addr(2), "b", true, WAIT).unwrap_err();
    assert_eq!(e.code, SpreadError::CouldNotConnect);
    // Back, with no clients: nothing for the group until b rejoins.
    sim.ctl("restart d2");
    assert_eq!(try_recv(&mut a, Duration::from_millis(200)), None);
    let mut b = sim.connect(2, "b");
    b.join("g").unwrap();
    for c in [&mut a, &mut b] {
        let m = membership(c);
        assert_eq!((m.cause, names(&m)), (Cause::Join, vec!["#a#d1", "#b#d2"]));
    }
}

#[test]
fn tcp_listeners_and_the_control_errors() {
    let dir = Scratch::new("wackamole-sim-tcp");
    // Find a free port by binding and releasing it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctl = dir.join("ctl");
    let only = format!("only={}", dir.join("s").display()) + &format!(",{port}@127.0.0.1");
    let mut child = spread_sim::launch(&[only], &ctl, Stdio::null());
    let addr = SpreadAddr::parse(&format!("{port}@127.0.0.1")).unwrap();
    let mut a = Client::connect(&addr, "a", true, WAIT).unwrap();
    assert_eq!(a.private_group(), "#a#only");
    a.join("g").unwrap();
    let m = membership(&mut a);
    assert_eq!(names(&m), ["#a#only"]);
    let run = |cmd: &str| spread_sim::ctl_output(&ctl, cmd);
    let out = run("crash nosuch");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ERR no daemon 'nosuch'"));
    assert!(!run("frobnicate").status.success());
    assert!(run("quit").status.success());
    let _ = child.wait();
    assert!(!ctl.exists(), "the control socket is removed on quit");
}

#[test]
fn the_example_client_prints_what_happens() {
    let sim = Sim::start("example", 1);
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/spread-client");
    assert!(
        example.exists(),
        "{} is built by cargo test",
        example.display()
    );
    let mut watcher = sim.connect(1, "w");
    watcher.join("g").unwrap();
    membership(&mut watcher);
    let out = Command::new(&example)
        .args([
            "-s",
            sim.addr(1).to_string().trim_start_matches("unix:"),
            "-u",
            "ex",
            "-g",
            "g",
            "-t",
            "1",
            "-m",
            "hi",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("MEMBERSHIP JOIN g "), "{text}");
    // Same daemon: ordered by name, so "#ex" comes before "#w".
    assert!(lines[0].ends_with(" 0 #ex#d1 #w#d1"), "{text}");
    assert_eq!(lines[1], "MESSAGE AGREED #ex#d1 1 2", "{text}");
    // The watcher saw the join, the message and the disconnect.
    assert_eq!(membership(&mut watcher).cause, Cause::Join);
    assert!(matches!(recv(&mut watcher), Message::Data(d) if d.data == b"hi"));
    assert_eq!(membership(&mut watcher).cause, Cause::Disconnect);
}

/// `hold` keeps multicasts unordered while memberships go on; `release`
/// orders them after every view that came meanwhile, in arrival order:
/// a message its sender sent in one view reaches the members in the
/// next (as Spread may order a message after a join its sender had not
/// seen yet). A held message whose sender has gone is dropped.
#[test]
fn hold_and_release_order_messages_after_the_views_between() {
    let sim = Sim::start("hold", 2);
    let (mut a, mut b) = two_in_g(&sim, 1, 2);
    let mut gone = sim.connect(1, "gone");
    gone.join("g").unwrap();
    for x in [&mut a, &mut b, &mut gone] {
        membership(x);
    }
    sim.ctl("hold");
    a.multicast(service::AGREED, &["g"], 1, b"one").unwrap();
    b.multicast(service::AGREED, &["g"], 2, b"two").unwrap();
    gone.multicast(service::AGREED, &["g"], 3, b"lost").unwrap();
    drop(gone);
    for x in [&mut a, &mut b] {
        assert_eq!(membership(x).cause, Cause::Disconnect);
    }
    let mut c = sim.connect(2, "c");
    c.join("g").unwrap();
    // Nothing is delivered while held; the join is.
    for x in [&mut a, &mut b, &mut c] {
        let m = membership(x);
        assert_eq!(names(&m), ["#a#d1", "#b#d2", "#c#d2"]);
    }
    assert!(try_recv(&mut a, Duration::from_millis(200)).is_none());
    assert_eq!(sim.ctl("release"), "released 2\nOK\n");
    for x in [&mut a, &mut b, &mut c] {
        for (sender, body) in [("#a#d1", &b"one"[..]), ("#b#d2", b"two")] {
            match recv(x) {
                Message::Data(d) => assert_eq!((d.sender.as_str(), &d.data[..]), (sender, body)),
                other => panic!("{other:?}"),
            }
        }
    }
    // By member: b's two, sent first, come after a's.
    sim.ctl("hold");
    b.multicast(service::AGREED, &["g"], 5, b"b1").unwrap();
    b.multicast(service::AGREED, &["g"], 5, b"b2").unwrap();
    a.multicast(service::AGREED, &["g"], 5, b"a1").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sim.ctl("release by-member"), "released 3\nOK\n");
    for want in [&b"a1"[..], b"b1", b"b2"] {
        assert!(matches!(recv(&mut c), Message::Data(d) if d.data == want));
    }
    // Released: the next one is ordered at once.
    a.multicast(service::AGREED, &["g"], 4, b"now").unwrap();
    assert!(matches!(recv(&mut c), Message::Data(d) if d.data == b"now"));
}
