//! The engine replayed against C wackamole 2.1.4: everything the Spread
//! group delivered to node tb1 in the captures goes in, and what the
//! engine multicasts must be, byte for byte, what C's tb1 sent.

use std::net::Ipv4Addr;
use std::path::Path;

use super::*;
use crate::cluster::msg::MessType;
use crate::config::{Diff, Pos, Vif};
use crate::testutil::{hex, vip4};

const THREE_HOSTS: &str =
    include_str!("../../../tests/data/wackamole-2.1.4/three-hosts.decoded.txt");
const PREFER_JOIN: &str =
    include_str!("../../../tests/data/wackamole-2.1.4/prefer-join.decoded.txt");
const THREE_HOSTS_CONF: &str = include_str!("../../../tests/data/three-hosts.conf");

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// One line of a decoded capture.
#[derive(Debug)]
enum Line {
    View {
        id: [u32; 3],
        members: Vec<String>,
        cause: Cause,
    },
    Transition,
    Message {
        sender: String,
        mess_type: i16,
        body: Vec<u8>,
    },
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    let rest = &line[start..];
    &rest[..rest.find(' ').unwrap_or(rest.len())]
}

/// (own private group, lines) of a `decode_spread.py` output.
fn parse(text: &str) -> (String, Vec<Line>) {
    let mut me = String::new();
    let mut lines = Vec::new();
    for l in text.lines() {
        if let Some(s) = l.strip_prefix("== session 0: ") {
            me = s.trim().to_string();
        } else if l.starts_with("      ") {
            // Detail lines.
        } else if let Some(rest) = l.trim().strip_prefix("REG_MEMB ") {
            let gid = &rest[rest.find("gid=(").unwrap() + 5..rest.find(')').unwrap()];
            let id: Vec<u32> = gid
                .split(", ")
                .map(|w| w.parse::<i32>().unwrap() as u32)
                .collect();
            let m = &rest[rest.find("members=[").unwrap() + 9..rest.find(']').unwrap()];
            let members = m
                .split(", ")
                .map(|s| s.trim_matches('\'').to_string())
                .collect();
            let cause = match rest.split_whitespace().next() {
                Some("JOIN") => Cause::Join,
                Some("LEAVE") => Cause::Leave,
                Some("DISCONNECT") => Cause::Disconnect,
                Some("NETWORK") => Cause::Network,
                other => panic!("a membership caused by {other:?}"),
            };
            lines.push(Line::View {
                id: [id[0], id[1], id[2]],
                members,
                cause,
            });
        } else if l.trim().starts_with("TRANSITION") {
            lines.push(Line::Transition);
        } else if l.contains(" from=") {
            let t = field(l, "type=");
            lines.push(Line::Message {
                sender: field(l, "from=").to_string(),
                mess_type: t[..t.find('(').unwrap()].parse().unwrap(),
                body: hex(field(l, "body=")),
            });
        }
    }
    (me, lines)
}

fn settings(me: Ipv4Addr) -> Settings {
    let cfg = crate::config::parse(THREE_HOSTS_CONF, Path::new("three-hosts.conf"))
        .unwrap()
        .config;
    Settings::new(&cfg, me)
}

/// What the engine did over a replay.
struct Replay {
    engine: Engine,
    /// Acquire/Release actions, as (vip, up).
    changes: Vec<(VifId, bool)>,
    compared: usize,
}

/// Feeds a capture to an engine for its node, firing the timers C fired
/// where the capture shows their effect, and checks every STATE,
/// MATURING and BALANCE the engine multicasts against what C sent.
fn replay(text: &str, s: Settings) -> Replay {
    let (me, lines) = parse(text);
    let mut e = Engine::new(s);
    let mut pending: Vec<(MessType, Vec<u8>)> = Vec::new();
    let mut changes = Vec::new();
    let mut compared = 0;
    let run = |e: &mut Engine,
               ev: Event<'_>,
               pending: &mut Vec<(MessType, Vec<u8>)>,
               changes: &mut Vec<(VifId, bool)>| {
        let mut queue = vec![e.handle(ev)];
        while let Some(actions) = queue.pop() {
            for act in actions {
                match act {
                    // HELLO and CLOSE are not C's: C's capture has none.
                    Action::Multicast {
                        mess_type: MessType::Hello | MessType::Close,
                        ..
                    } => {}
                    Action::Multicast { mess_type, body } => pending.push((mess_type, body)),
                    Action::Acquire(id, _) => changes.push((id, true)),
                    Action::Release(id) => changes.push((id, false)),
                    // `all`: C runs the balance right after the exchange.
                    Action::StartTimer(Timer::Balance, d) if d.is_zero() => {
                        queue.push(e.handle(Event::Timer(Timer::Balance)));
                    }
                    _ => {}
                }
            }
        }
    };
    run(
        &mut e,
        Event::Connected { private_group: &me },
        &mut pending,
        &mut changes,
    );
    for line in &lines {
        match line {
            Line::View { id, members, cause } => {
                let my_index = members.iter().position(|m| *m == me).unwrap();
                let v = View {
                    id: *id,
                    members: members.clone(),
                    my_index,
                    cause: *cause,
                };
                run(&mut e, Event::View(v), &mut pending, &mut changes);
            }
            Line::Transition => run(&mut e, Event::Transition, &mut pending, &mut changes),
            Line::Message {
                sender,
                mess_type,
                body,
            } => {
                if *sender == me && *mess_type != 5 {
                    if *mess_type == 2 && pending.is_empty() {
                        // C's maturity timer fired here.
                        run(
                            &mut e,
                            Event::Timer(Timer::Maturity),
                            &mut pending,
                            &mut changes,
                        );
                    }
                    assert!(
                        !pending.is_empty(),
                        "C sent type {mess_type} that the engine did not"
                    );
                    let (t, mine) = pending.remove(0);
                    assert_eq!(t as i16, *mess_type, "message type");
                    assert_eq!(&mine, body, "type {mess_type} body");
                    compared += 1;
                }
                let ev = Event::Message {
                    sender,
                    mess_type: *mess_type,
                    swapped: false,
                    delivered: Delivered::Agreed,
                    body,
                };
                run(&mut e, ev, &mut pending, &mut changes);
            }
        }
    }
    assert!(
        pending.is_empty(),
        "the engine sent more than C: {pending:?}"
    );
    Replay {
        engine: e,
        changes,
        compared,
    }
}

fn held(e: &Engine) -> Vec<Ipv4Addr> {
    e.held().map(VifId::wire).collect()
}

#[test]
#[cfg(target_endian = "little")]
fn three_hosts_as_tb1() {
    let r = replay(THREE_HOSTS, settings(a("192.168.78.1")));
    // Four STATEs (one per view), one MATURING, two BALANCEs.
    assert_eq!(r.compared, 7);
    let up: Vec<Ipv4Addr> = r
        .changes
        .iter()
        .filter(|c| c.1)
        .map(|c| c.0.wire())
        .collect();
    let down: Vec<Ipv4Addr> = r
        .changes
        .iter()
        .filter(|c| !c.1)
        .map(|c| c.0.wire())
        .collect();
    assert_eq!(
        up,
        ["101", "102", "103", "104", "105", "106", "102"].map(|o| a(&format!("192.168.78.{o}")))
    );
    assert_eq!(
        down,
        ["101", "102", "103", "104"].map(|o| a(&format!("192.168.78.{o}")))
    );
    // tb2 gone: its .102/.103 go to the member with fewest, tb1 first.
    assert_eq!(
        held(&r.engine),
        [
            a("192.168.78.102"),
            a("192.168.78.105"),
            a("192.168.78.106")
        ]
    );
    assert_eq!(r.engine.phase(), Phase::Run);
    let t = r.engine.table();
    assert_eq!(t[2].owner, a("192.168.78.3"), ".103 to tb3");
}

#[test]
#[cfg(target_endian = "little")]
fn prefer_join_as_tb1() {
    let r = replay(PREFER_JOIN, settings(a("192.168.78.1")));
    assert_eq!(r.compared, 5);
    // tb1 and tb2 deal alternately; tb3's preference takes .101 from tb1.
    let up: Vec<Ipv4Addr> = r
        .changes
        .iter()
        .filter(|c| c.1)
        .map(|c| c.0.wire())
        .collect();
    assert_eq!(
        up,
        ["101", "103", "105"].map(|o| a(&format!("192.168.78.{o}")))
    );
    assert_eq!(
        r.changes.last(),
        Some(&(VifId::new(a("192.168.78.101")), false))
    );
    assert_eq!(held(&r.engine), [a("192.168.78.103"), a("192.168.78.105")]);
    let t = r.engine.table();
    assert_eq!(
        (t[0].owner, t[0].priority),
        (a("192.168.78.3"), Priority::PreferClaimed)
    );
    // The BALANCE (checked byte for byte in the replay) moved .102 to tb3.
    assert_eq!(t[1].owner, a("192.168.78.3"));
    let counts: Vec<i32> = r.engine.members().iter().map(|m| m.count).collect();
    assert_eq!(counts, [2, 2, 2]);
}

// ---- rules and hostile input, one engine at a time ----------------------

fn vip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 100 + i)
}

fn vid(i: u8) -> VifId {
    VifId::new(vip(i))
}

/// The place of `vid(i)` in [`small`]'s table: `i`.
fn place(id: VifId) -> usize {
    usize::from(id.wire().octets()[3] - 100)
}

/// VIF `vid(i)` with one address of `prefix` bits.
fn vif(i: u8, prefix: u8) -> Vif {
    Vif {
        addrs: vec![vip4("eth0", &vip(i).to_string(), prefix, 24)],
        pos: Pos { line: 1, col: 1 },
    }
}

fn diff(added: &[u8], removed: &[u8], redefined: &[u8], unchanged: &[u8]) -> Diff {
    Diff {
        added: added.iter().map(|&i| vif(i, 32)).collect(),
        removed: removed.iter().map(|&i| vif(i, 32)).collect(),
        redefined: redefined
            .iter()
            .map(|&i| (vif(i, 32), vif(i, 24)))
            .collect(),
        unchanged: unchanged.iter().map(|&i| vid(i)).collect(),
        reconnect: Vec::new(),
        settings: Vec::new(),
    }
}

fn node(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i)
}

fn small(me: u8, vifs: u8, prefer: &[u8]) -> Settings {
    Settings {
        me: node(me),
        vifs: (0..vifs).map(vid).collect(),
        prefer: prefer.iter().map(|&p| vip(p)).collect(),
        balance_rate: u32::from(vifs) / 2,
        complete_balance: true,
        balance_interval: Duration::from_secs(60),
        mature: Duration::from_secs(5),
        arp_cache: Duration::from_secs(60),
        gather_timeout: Some(Duration::from_secs(2)),
        quorum: 0,
    }
}

const ID: [u32; 3] = [7, 8, 9];

fn names(n: u8) -> Vec<String> {
    (1..=n).map(|i| format!("#n{i}#d")).collect()
}

/// An engine for node `me` (1-based) in a fresh view of `n` members.
fn in_view(s: Settings, n: u8) -> (Engine, Vec<Action>) {
    let me = s.me.octets()[3];
    let mut e = Engine::new(s);
    e.handle(Event::Connected {
        private_group: &format!("#n{me}#d"),
    });
    let acts = e.handle(Event::View(View {
        id: ID,
        members: names(n),
        my_index: usize::from(me - 1),
        cause: Cause::Join,
    }));
    (e, acts)
}

fn state(from: u8, mature: bool, held: &[(u8, Priority)], prefer: &[u8]) -> Vec<u8> {
    msg::State {
        group_id: ID,
        real: node(from),
        index: i32::from(from) - 1,
        mature,
        held: held.iter().map(|&(v, p)| (vip(v), p)).collect(),
        prefer: prefer.iter().map(|&p| vip(p)).collect(),
    }
    .encode()
}

/// Two nodes, two VIFs, seen from node `me`: n1 claims both in its
/// STATE, n2 prefers VIF 1. With `n1_held_them`, n1 held both in the
/// last view (and n2 is mature); else n2 has just joined. The STATEs
/// come n1 first unless `prefer_first`. Returns the actions of the
/// second.
fn n2_prefers_what_n1_claims(
    me: u8,
    n1_held_them: bool,
    prefer_first: bool,
) -> (Engine, Vec<Action>) {
    let prefer: &[u8] = if me == 2 { &[1] } else { &[] };
    let (mut e, _) = in_view(small(me, 2, prefer), 2);
    if n1_held_them {
        e.old = vec![
            Slot {
                owner: node(1),
                priority: Priority::Claimed
            };
            2
        ];
        if me == 1 {
            e.held = vec![true, true];
        }
    }
    let claims = [(0, Priority::Claimed), (1, Priority::Claimed)];
    let holder = state(1, true, &claims, &[]);
    let preferrer = state(2, n1_held_them, &[], &[1]);
    let acts = if prefer_first {
        deliver(&mut e, 2, MessType::State, &preferrer);
        deliver(&mut e, 1, MessType::State, &holder)
    } else {
        deliver(&mut e, 1, MessType::State, &holder);
        deliver(&mut e, 2, MessType::State, &preferrer)
    };
    (e, acts)
}

fn deliver(e: &mut Engine, from: u8, t: MessType, body: &[u8]) -> Vec<Action> {
    deliver_as(e, &format!("#n{from}#d"), t, Delivered::Agreed, body)
}

fn acquired(acts: &[Action]) -> Vec<usize> {
    acts.iter()
        .filter_map(|a| {
            if let Action::Acquire(id, _) = a {
                Some(place(*id))
            } else {
                None
            }
        })
        .collect()
}

fn released(acts: &[Action]) -> Vec<usize> {
    acts.iter()
        .filter_map(|a| {
            if let Action::Release(id) = a {
                Some(place(*id))
            } else {
                None
            }
        })
        .collect()
}

fn warned(acts: &[Action], needle: &str) -> bool {
    acts.iter()
        .any(|a| matches!(a, Action::Log(Level::Warn | Level::Error, t) if t.contains(needle)))
}

#[test]
fn a_view_sends_state_and_gathers() {
    let (e, acts) = in_view(small(1, 4, &[2]), 2);
    assert_eq!(e.phase(), Phase::Gather);
    let body = acts
        .iter()
        .find_map(|a| match a {
            Action::Multicast {
                mess_type: MessType::State,
                body,
            } => Some(body),
            _ => None,
        })
        .expect("a STATE");
    let s = msg::State::decode(body, false).unwrap();
    assert!(acts.iter().any(
        |a| matches!(a, Action::Log(Level::Info, t) if t.starts_with("membership 7:8:9: 2 members"))
    ));
    assert_eq!(
        (s.group_id, s.real, s.index, s.mature),
        (ID, node(1), 0, false)
    );
    assert_eq!(s.prefer, [vip(2)]);
    assert!(acts.contains(&Action::CancelTimer(Timer::Balance)));
    assert!(acts.contains(&Action::ShareArpCache));
}

#[test]
fn a_cold_cluster_waits_for_maturity_then_deals_alternately() {
    let (mut e, _) = in_view(small(1, 4, &[]), 2);
    deliver(&mut e, 1, MessType::State, &state(1, false, &[], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, false, &[], &[]));
    assert_eq!(e.phase(), Phase::Boot, "immature: no claims");
    assert!(acquired(&acts).is_empty());
    // The maturity timer multicasts MATURING; its delivery claims.
    let acts = e.handle(Event::Timer(Timer::Maturity));
    assert_eq!(
        acts,
        [Action::Multicast {
            mess_type: MessType::Maturing,
            body: vec![]
        }]
    );
    let acts = deliver(&mut e, 2, MessType::Maturing, &[]);
    assert!(e.is_mature());
    assert_eq!(
        acquired(&acts),
        [0, 2],
        "fewest first, lowest index on ties"
    );
    assert!(acts.contains(&Action::PostUp));
    assert_eq!(e.phase(), Phase::Run);
    assert!(acts.contains(&Action::StartTimer(Timer::Balance, Duration::ZERO)));
}

#[test]
fn joining_a_mature_cluster_is_mature_at_once() {
    let (mut e, _) = in_view(small(2, 4, &[]), 2);
    deliver(
        &mut e,
        1,
        MessType::State,
        &state(
            1,
            true,
            &[
                (0, Priority::Claimed),
                (1, Priority::Claimed),
                (2, Priority::Claimed),
                (3, Priority::Claimed),
            ],
            &[],
        ),
    );
    assert!(e.is_mature());
    let acts = deliver(&mut e, 2, MessType::State, &state(2, false, &[], &[]));
    // Nothing unclaimed: the newcomer gets its share from the leader's BALANCE.
    assert!(acquired(&acts).is_empty());
    assert_eq!(e.phase(), Phase::Run);
    let b = msg::Balance {
        moves: vec![(node(2), vip(0)), (node(2), vip(1))],
    }
    .encode();
    let acts = deliver(&mut e, 1, MessType::Balance, &b);
    assert_eq!(acquired(&acts), [0, 1]);
    // The hooks learn who had them.
    assert!(acts.contains(&Action::Acquire(vid(0), Some(node(1)))));
    assert!(acts.contains(&Action::PostUp));
}

#[test]
fn an_acquire_names_the_previous_holder_only_when_there_was_one() {
    // A cold start: VIF 0 and 1 are unclaimed, nobody held them.
    let (mut e, _) = in_view(small(1, 2, &[]), 1);
    let acts = deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    assert_eq!(acquired(&acts), [0, 1]);
    assert!(acts.contains(&Action::Acquire(vid(0), None)));
    // The preferrer takes VIF 1 from n1, who held it in the last view.
    let (_, acts) = n2_prefers_what_n1_claims(2, true, false);
    assert_eq!(acquired(&acts), [1]);
    assert!(acts.contains(&Action::Acquire(vid(1), Some(node(1)))));
    // A preferrer that just joined has no old table: the holder is the
    // claimant its preference displaced, whichever STATE came first.
    for prefer_first in [false, true] {
        let (_, acts) = n2_prefers_what_n1_claims(2, false, prefer_first);
        assert!(
            acts.contains(&Action::Acquire(vid(1), Some(node(1)))),
            "prefer_first={prefer_first}: {acts:?}"
        );
    }
    // The last view's holder failed: nobody gave it up.
    let (mut e, _) = in_view(small(2, 2, &[0]), 2);
    e.old[0] = Slot {
        owner: node(3),
        priority: Priority::Claimed,
    };
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[0]));
    assert!(acts.contains(&Action::Acquire(vid(0), None)), "{acts:?}");
}

#[test]
fn conflicts_follow_claim_priority() {
    // n1 and n2 both held VIF 0 (a merge). n1's STATE comes first.
    let (mut e, _) = in_view(small(2, 2, &[]), 2);
    // n2 ran alone before: it holds both VIFs.
    e.held = vec![true, true];
    deliver(
        &mut e,
        1,
        MessType::State,
        &state(1, true, &[(0, Priority::Claimed)], &[]),
    );
    let acts = deliver(
        &mut e,
        2,
        MessType::State,
        &state(
            2,
            true,
            &[(0, Priority::Claimed), (1, Priority::Claimed)],
            &[],
        ),
    );
    // Equal priority: the later sender (n2, this node) loses VIF 0.
    assert_eq!(released(&acts), [0]);
    assert!(acts.contains(&Action::PostDown));
    assert_eq!(e.table()[0].owner, node(1));
    assert_eq!(e.table()[1].owner, node(2));
    // A PREFER_CLAIMED holder beats a CLAIMED one that came first.
    let (mut e, _) = in_view(small(1, 1, &[]), 2);
    e.held = vec![true];
    deliver(
        &mut e,
        1,
        MessType::State,
        &state(1, true, &[(0, Priority::Claimed)], &[]),
    );
    let acts = deliver(
        &mut e,
        2,
        MessType::State,
        &state(2, true, &[(0, Priority::PreferClaimed)], &[0]),
    );
    assert_eq!(released(&acts), [0]);
    assert_eq!(
        (e.table()[0].owner, e.table()[0].priority),
        (node(2), Priority::PreferClaimed)
    );
}

#[test]
fn a_preference_takes_a_vif_over() {
    let (e, acts) = n2_prefers_what_n1_claims(1, true, false);
    assert_eq!(released(&acts), [1]);
    assert_eq!(
        (e.table()[1].owner, e.table()[1].priority),
        (node(2), Priority::PreferClaimed)
    );
    let counts: Vec<i32> = e.members().iter().map(|m| m.count).collect();
    assert_eq!(counts, [1, 1]);
}

#[test]
fn the_leader_moves_what_c_moves() {
    // Counts 3,3,0 (three-hosts after tb3 joins): C picks the first
    // member as busiest (ties keep it), then member 1.
    let mut s = small(1, 6, &[]);
    s.balance_rate = 3;
    let (mut e, _) = in_view(s, 3);
    let p = Priority::Claimed;
    deliver(
        &mut e,
        1,
        MessType::State,
        &state(1, true, &[(3, p), (4, p), (5, p)], &[]),
    );
    deliver(&mut e, 3, MessType::State, &state(3, false, &[], &[]));
    let acts = deliver(
        &mut e,
        2,
        MessType::State,
        &state(2, true, &[(0, p), (1, p), (2, p)], &[]),
    );
    assert!(acts.contains(&Action::StartTimer(Timer::Balance, Duration::ZERO)));
    let acts = e.handle(Event::Timer(Timer::Balance));
    let Some(Action::Multicast {
        mess_type: MessType::Balance,
        body,
    }) = acts.first()
    else {
        panic!("{acts:?}")
    };
    let b = msg::Balance::decode(body, false).unwrap();
    assert_eq!(b.moves, [(node(3), vip(3)), (node(3), vip(0))]);
    // Once balanced, the leader sends nothing.
    deliver(&mut e, 1, MessType::Balance, body);
    let acts = e.handle(Event::Timer(Timer::Balance));
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Multicast { .. })),
        "{acts:?}"
    );
}

#[test]
fn hostile_and_stale_input_is_ignored() {
    let (mut e, _) = in_view(small(1, 2, &[]), 2);
    let p = Priority::Claimed;
    // (what, sender, body, the log line the first of its kind and sender
    // gets; later ones are counted, not logged)
    let cases: Vec<(&str, u8, Vec<u8>, &str)> = vec![
        (
            "a truncated body",
            2,
            state(2, true, &[(0, p)], &[])[..30].to_vec(),
            "malformed STATE",
        ),
        (
            "an absurd count",
            2,
            {
                let mut b = state(2, true, &[], &[]);
                b[24..28].copy_from_slice(&1_000_000i32.to_ne_bytes());
                b
            },
            "malformed STATE",
        ),
        (
            "an index out of range",
            2,
            {
                let mut b = state(2, true, &[], &[]);
                b[16..20].copy_from_slice(&99i32.to_ne_bytes());
                b
            },
            "claiming index 99",
        ),
        (
            "another member's index",
            2,
            {
                let mut b = state(2, true, &[(0, p)], &[]);
                b[16..20].copy_from_slice(&0i32.to_ne_bytes());
                b
            },
            "claiming index 0",
        ),
        (
            "a stranger",
            9,
            state(2, true, &[(0, p)], &[]),
            "claiming index 1",
        ),
    ];
    let mut logged = Vec::new();
    for (what, from, body, log) in cases {
        let acts = deliver(&mut e, from, MessType::State, &body);
        let first = !logged.contains(&(from, log.split(' ').next()));
        if first {
            assert!(warned(&acts, log), "{what}: {acts:?}");
            logged.push((from, log.split(' ').next()));
        } else {
            assert!(!warned(&acts, ""), "{what}: logged twice: {acts:?}");
        }
        assert!(!e.members()[1].got_state, "{what}");
        assert_eq!(e.table()[0].owner, Ipv4Addr::UNSPECIFIED, "{what}");
    }
    // Another view's STATE: dropped quietly (normal during quick changes).
    let mut b = state(2, true, &[(0, p)], &[]);
    b[8..12].copy_from_slice(&1u32.to_ne_bytes());
    let acts = deliver(&mut e, 2, MessType::State, &b);
    assert!(!warned(&acts, ""), "{acts:?}");
    assert!(!e.members()[1].got_state);
    // A good one counts once; a second is ignored.
    deliver(&mut e, 2, MessType::State, &state(2, true, &[(0, p)], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[(1, p)], &[]));
    assert!(warned(&acts, "second STATE"));
    assert_eq!(e.table()[1].owner, Ipv4Addr::UNSPECIFIED);
    // An unknown VIP in a STATE is named, the rest is used.
    let acts = deliver(&mut e, 1, MessType::State, &{
        let mut s = msg::State::decode(&state(1, true, &[(1, p)], &[]), false).unwrap();
        s.held.push((Ipv4Addr::new(203, 0, 113, 1), p));
        s.encode()
    });
    assert!(warned(&acts, "203.0.113.1, which is not a VIF here"));
    assert_eq!(e.phase(), Phase::Run);
    assert_eq!(e.table()[1].owner, node(1));
    // BALANCEs that are not the leader's, or that name strangers.
    let table = e.table().to_vec();
    for (from, moves, log) in [
        (2, vec![(node(2), vip(1))], "does not lead"),
        (1, vec![(node(9), vip(1))], "an address no member has"),
        // The same kind from the same sender: counted, not logged.
        (1, vec![(node(2), Ipv4Addr::new(203, 0, 113, 1))], ""),
    ] {
        let acts = deliver(
            &mut e,
            from,
            MessType::Balance,
            &msg::Balance { moves }.encode(),
        );
        if log.is_empty() {
            assert!(!warned(&acts, ""), "{acts:?}");
        } else {
            assert!(warned(&acts, log), "{acts:?}");
        }
        assert_eq!(e.table(), &table[..]);
    }
    let acts = deliver(&mut e, 1, MessType::Balance, &[1, 2, 3]);
    assert!(warned(&acts, "malformed BALANCE"));
    // MATURING from a stranger, and unknown message types.
    let acts = deliver(&mut e, 9, MessType::Maturing, &[]);
    assert!(warned(&acts, "not a member"));
    assert!(e
        .handle(Event::Message {
            sender: "#n2#d",
            mess_type: 77,
            swapped: false,
            delivered: Delivered::Agreed,
            body: &[0; 64]
        })
        .is_empty());
}

#[test]
fn losing_the_link_releases_everything() {
    let (mut e, _) = in_view(small(1, 3, &[]), 1);
    let acts = deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    assert_eq!(acquired(&acts), [0, 1, 2]);
    let acts = e.handle(Event::Disconnected);
    assert_eq!(released(&acts), [0, 1, 2]);
    assert!(acts.contains(&Action::PostDown));
    assert!(acts.contains(&Action::CancelTimer(Timer::Maturity)));
    assert_eq!(e.held().count(), 0);
    // Nothing happens until connected again.
    assert!(e.handle(Event::Timer(Timer::Maturity)).is_empty());
    let acts = e.handle(Event::Connected {
        private_group: "#n1#d",
    });
    assert!(acts.contains(&Action::StartTimer(Timer::Maturity, Duration::from_secs(5))));
    assert!(!e.is_mature());
}

#[test]
fn two_members_with_one_identity_are_reported() {
    let (mut e, _) = in_view(small(1, 2, &[]), 2);
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let mut b = msg::State::decode(&state(2, true, &[], &[]), false).unwrap();
    b.real = node(1);
    let acts = deliver(&mut e, 2, MessType::State, &b.encode());
    assert!(acts.iter().any(|a| matches!(a, Action::Log(Level::Error, t) if t.contains("both report real address 10.0.0.1"))), "{acts:?}");
}

#[test]
fn a_reload_keeps_unchanged_vifs_and_claims_new_ones() {
    let (mut e, _) = in_view(small(1, 3, &[]), 2);
    let list: Vec<u8> = vec![0, 1, 2];
    for n in 1..=2 {
        deliver(&mut e, n, MessType::Hello, &hello_with(&list));
    }
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert_eq!(acquired(&acts), [0, 2]);
    assert!(e.rust_view());
    // VIF 1 (n2's) is removed, VIF 3 and 4 are added, VIF 0 and 2 stay.
    let mut s = small(1, 5, &[]);
    s.vifs = vec![vid(3), vid(2), vid(0), vid(4)];
    let step = e.reconfigure(s, &diff(&[3, 4], &[1], &[], &[2, 0]));
    assert!(
        step.before.is_empty(),
        "nothing this node holds was removed: {step:?}"
    );
    // Held VIFs followed their addresses to their new places.
    let mut held = held(&e);
    held.sort();
    assert_eq!(held, [vip(0), vip(2)]);
    // The group learns the new list first: nothing is claimed yet.
    assert_eq!(acquired(&step.after), Vec::<usize>::new());
    let vifs = multicast_body(&step.after, MessType::Vifs);
    // VIF 1 stays n2's: n2 has it.
    assert_eq!(e.slot(vid(1)), None);
    assert_eq!(
        e.shadow_table().collect::<Vec<_>>(),
        [(
            vip(1),
            Slot {
                owner: node(2),
                priority: Priority::Claimed
            }
        )]
    );
    // At the VIFS, on every node alike: the new VIFs only n1 has are n1's.
    let acts = deliver(&mut e, 1, MessType::Vifs, &vifs);
    let mut got = acquired(&acts);
    got.sort();
    assert_eq!(got, [3, 4]);
    assert_eq!(e.slot(vid(3)).unwrap().owner, node(1));
    assert_eq!(e.shadow_table().next().unwrap().1.owner, node(2));
    // Removing a held VIF releases it before the swap, by its identity.
    let mut s = small(1, 5, &[]);
    s.vifs = vec![vid(3), vid(0), vid(4)];
    let step = e.reconfigure(s, &diff(&[], &[2], &[], &[3, 0, 4]));
    assert_eq!(step.before, [Action::Release(vid(2))]);
    assert!(step.after.contains(&Action::PostDown));
    assert_eq!(e.held().collect::<Vec<_>>(), [vid(3), vid(0), vid(4)]);
    // n2 has VIF 2: at the VIFS it goes to n2, not back up here.
    let vifs = multicast_body(&step.after, MessType::Vifs);
    let acts = deliver(&mut e, 1, MessType::Vifs, &vifs);
    assert_eq!(acquired(&acts), Vec::<usize>::new());
    let two = e.shadow_table().find(|(a, _)| *a == vip(2)).unwrap();
    assert_eq!(two.1.owner, node(2));
}

#[test]
fn a_reload_takes_a_redefined_held_vif_down_and_up_again() {
    let (mut e, _) = in_view(small(1, 3, &[]), 2);
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert_eq!(acquired(&acts), [0, 2]);
    // VIF 0 (held) and VIF 1 (n2's) get other addresses; VIF 2 stays.
    let step = e.reconfigure(small(1, 3, &[]), &diff(&[], &[], &[0, 1], &[2]));
    // Down by the old definition, up by the new one; nobody else's VIF
    // and no unchanged one is touched, and no post hook runs (the VIF
    // never left this node).
    assert_eq!(step.before, [Action::Release(vid(0))]);
    let changes: Vec<_> = (step.after.iter())
        .filter(|a| matches!(a, Action::Acquire(..) | Action::Release(_) | Action::PostUp))
        .collect();
    assert_eq!(changes, [&Action::Acquire(vid(0), None)]);
    let mut held = held(&e);
    held.sort();
    assert_eq!(held, [vip(0), vip(2)]);
    assert_eq!(e.slot(vid(0)).unwrap().owner, node(1));
}

fn deliver_as(
    e: &mut Engine,
    from: &str,
    t: MessType,
    delivered: Delivered,
    body: &[u8],
) -> Vec<Action> {
    e.handle(Event::Message {
        sender: from,
        mess_type: t as i16,
        swapped: false,
        delivered,
        body,
    })
}

fn arp_body(last: u8) -> Vec<u8> {
    msg::encode_arp_cache(&[msg::ArpRecord {
        ip: Ipv4Addr::new(192, 0, 2, 1),
        mac: [2, 0, 0, 0, 0, last],
    }])
}

#[test]
fn only_agreed_traffic_to_the_group_moves_anything() {
    let p = Priority::PreferClaimed;
    for delivered in [Delivered::Unordered, Delivered::Elsewhere] {
        let (mut e, _) = in_view(small(1, 2, &[]), 2);
        deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
        // n2's STATE claiming everything, sent FIFO or to n1 alone: had it
        // counted, n1 alone would see it and its table would differ.
        let body = state(2, true, &[(0, p), (1, p)], &[]);
        let acts = deliver_as(&mut e, "#n2#d", MessType::State, delivered, &body);
        assert!(warned(&acts, "ignoring a STATE from #n2#d"), "{acts:?}");
        assert!(!e.members()[1].got_state);
        assert_eq!(e.phase(), Phase::Gather);
        // Sent properly, it counts.
        let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
        assert_eq!(acquired(&acts), [0], "{delivered:?}");
        assert_eq!(e.phase(), Phase::Run);
        // BALANCE from the leader, not agreed: ignored.
        let moves = msg::Balance {
            moves: vec![(node(2), vip(0))],
        };
        let acts = deliver_as(
            &mut e,
            "#n1#d",
            MessType::Balance,
            delivered,
            &moves.encode(),
        );
        assert!(warned(&acts, "ignoring a BALANCE"), "{acts:?}");
        assert!(released(&acts).is_empty());
        assert_eq!(e.table()[0].owner, node(1));
    }
    // MATURING not agreed does not make a node mature.
    let (mut e, _) = in_view(small(1, 2, &[]), 2);
    let acts = deliver_as(
        &mut e,
        "#n2#d",
        MessType::Maturing,
        Delivered::Unordered,
        &[],
    );
    assert!(warned(&acts, "not sent AGREED"), "{acts:?}");
    assert!(!e.is_mature());
    deliver_as(&mut e, "#n2#d", MessType::Maturing, Delivered::Agreed, &[]);
    assert!(e.is_mature());
}

#[test]
fn arp_caches_count_only_from_members_to_the_group() {
    let (mut e, _) = in_view(small(1, 2, &[]), 2);
    // RELIABLE is how C sends it.
    let acts = deliver_as(
        &mut e,
        "#n2#d",
        MessType::ArpCache,
        Delivered::Unordered,
        &arp_body(1),
    );
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::LearnArp { from, records } if from == "#n2#d" && records.len() == 1)),
        "{acts:?}"
    );
    for (from, delivered, log) in [
        ("#x#d9", Delivered::Unordered, "not a member"),
        ("#n2#d", Delivered::Elsewhere, "not sent to the group alone"),
    ] {
        let acts = deliver_as(&mut e, from, MessType::ArpCache, delivered, &arp_body(2));
        assert!(warned(&acts, log), "{acts:?}");
        assert!(
            !acts.iter().any(|a| matches!(a, Action::LearnArp { .. })),
            "{acts:?}"
        );
    }
}

#[test]
fn a_flood_is_logged_once_per_kind_and_sender_then_counted() {
    let (mut e, _) = in_view(small(1, 2, &[]), 2);
    let mut logs = 0;
    for _ in 0..1000 {
        let acts = deliver_as(&mut e, "#x#d9", MessType::Maturing, Delivered::Agreed, &[]);
        logs += acts.iter().filter(|a| matches!(a, Action::Log(..))).count();
        let acts = deliver(&mut e, 2, MessType::State, &[1, 2, 3]);
        logs += acts.iter().filter(|a| matches!(a, Action::Log(..))).count();
    }
    assert_eq!(logs, 2, "one line per kind and sender");
    // The next view says how many more there were.
    let acts = e.handle(Event::View(View {
        id: [2, 0, 0],
        members: names(2),
        my_index: 0,
        cause: Cause::Join,
    }));
    assert!(
        warned(
            &acts,
            "999 more MATURING from a non-member from #x#d9 ignored in the last view"
        ),
        "{acts:?}"
    );
    assert!(
        warned(&acts, "999 more malformed STATE from #n2#d ignored"),
        "{acts:?}"
    );
    // ...and counts afresh.
    let acts = deliver_as(&mut e, "#x#d9", MessType::Maturing, Delivered::Agreed, &[]);
    assert!(warned(&acts, "not a member"), "{acts:?}");
    // A flood of new names is counted together past a bound.
    let mut e2 = in_view(small(1, 2, &[]), 2).0;
    for i in 0..reject::MAX_TRACKED + 50 {
        deliver_as(
            &mut e2,
            &format!("#x{i}#d9"),
            MessType::Maturing,
            Delivered::Agreed,
            &[],
        );
    }
    let acts = e2.handle(Event::Disconnected);
    assert!(
        warned(&acts, "50 more messages from over 256 senders"),
        "{acts:?}"
    );
}

fn hello(c_members: &[&str]) -> Vec<u8> {
    msg::Hello {
        group_id: ID,
        c_members: c_members.iter().map(|s| s.to_string()).collect(),
        vifs: None,
    }
    .encode()
}

/// A HELLO with the sender's VIF list.
fn hello_with(vifs: &[u8]) -> Vec<u8> {
    msg::Hello {
        group_id: ID,
        c_members: vec![],
        vifs: Some(vifs.iter().map(|&i| vip(i)).collect()),
    }
    .encode()
}

fn close() -> Vec<u8> {
    msg::Close { group_id: ID }.encode()
}

/// The body of the first multicast of type `t` among `acts`.
fn multicast_body(acts: &[Action], t: MessType) -> Vec<u8> {
    acts.iter()
        .find_map(|a| match a {
            Action::Multicast { mess_type, body } if *mess_type == t => Some(body.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {t:?} in {acts:?}"))
}

fn multicasts(acts: &[Action], t: MessType) -> usize {
    acts.iter()
        .filter(|a| matches!(a, Action::Multicast { mess_type, .. } if *mess_type == t))
        .count()
}

/// n1 (this node) and n2 send HELLO and STATE; n3 never does.
fn two_of_three_sent_state() -> Engine {
    let (mut e, acts) = in_view(small(1, 6, &[]), 3);
    // HELLO goes out before the STATE.
    let order: Vec<MessType> = acts
        .iter()
        .filter_map(|a| match a {
            Action::Multicast { mess_type, .. } => Some(*mess_type),
            _ => None,
        })
        .collect();
    assert_eq!(order, [MessType::Hello, MessType::State]);
    deliver(&mut e, 1, MessType::Hello, &hello(&[]));
    let acts = deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    assert!(
        acts.contains(&Action::StartTimer(Timer::Gather, Duration::from_secs(2))),
        "the bound starts with this node's own STATE: {acts:?}"
    );
    deliver(&mut e, 2, MessType::Hello, &hello(&[]));
    deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert_eq!(e.phase(), Phase::Gather);
    e
}

#[test]
fn a_silent_member_does_not_hold_the_round_past_the_bound() {
    let mut e = two_of_three_sent_state();
    let acts = e.handle(Event::Timer(Timer::Gather));
    assert_eq!(multicasts(&acts, MessType::Close), 1, "{acts:?}");
    // At the CLOSE, every node ends the round with n1 and n2.
    let acts = deliver(&mut e, 2, MessType::Close, &close());
    assert!(warned(&acts, "without #n3#d"), "{acts:?}");
    assert_eq!(e.phase(), Phase::Run);
    let names: Vec<&str> = e.members().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["#n1#d", "#n2#d"]);
    // n3 is given nothing; n1 (leader) and n2 share the six VIFs.
    assert_eq!(acquired(&acts).len(), 3, "{acts:?}");
    assert!(e
        .table()
        .iter()
        .all(|s| s.owner == node(1) || s.owner == node(2)));
    // Its STATE now comes too late, without HELLO: a C node, left out.
    let acts = deliver(&mut e, 3, MessType::State, &state(3, true, &[], &[]));
    assert!(warned(&acts, "C node"), "{acts:?}");
    assert_eq!(e.members().len(), 2);
    // A second CLOSE, or the bound again, changes nothing.
    assert!(acquired(&deliver(&mut e, 1, MessType::Close, &close())).is_empty());
    let acts = e.handle(Event::Timer(Timer::Gather));
    assert_eq!(multicasts(&acts, MessType::Close), 0, "{acts:?}");
}

#[test]
fn a_close_counts_only_from_a_participant_of_this_view() {
    let mut e = two_of_three_sent_state();
    // The silent member itself, another view's CLOSE, a CLOSE not sent
    // AGREED: the round stays open.
    deliver(&mut e, 3, MessType::Close, &close());
    let other = msg::Close {
        group_id: [1, 1, 1],
    }
    .encode();
    deliver(&mut e, 2, MessType::Close, &other);
    deliver_as(
        &mut e,
        "#n2#d",
        MessType::Close,
        Delivered::Unordered,
        &close(),
    );
    assert_eq!(e.phase(), Phase::Gather);
    assert_eq!(e.members().len(), 3);
}

#[test]
fn a_c_node_in_the_view_keeps_the_round_open_as_c_does() {
    // n2 is a C node: a STATE without HELLO.
    let (mut e, _) = in_view(small(1, 6, &[]), 3);
    deliver(&mut e, 1, MessType::Hello, &hello(&[]));
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Log(Level::Info, t) if t.contains("waits for every member"))
        ),
        "{acts:?}"
    );
    let acts = e.handle(Event::Timer(Timer::Gather));
    assert_eq!(multicasts(&acts, MessType::Close), 0, "{acts:?}");
    deliver(&mut e, 1, MessType::Close, &close());
    assert_eq!(e.phase(), Phase::Gather);
    // The next view: n1 names n2 a C node in its HELLO, and any node
    // that reads it waits, even before n2's STATE comes.
    let acts = e.handle(Event::View(View {
        id: [8, 8, 8],
        members: names(3),
        my_index: 0,
        cause: Cause::Join,
    }));
    let body = multicast_body(&acts, MessType::Hello);
    let h = msg::Hello::decode(&body, false).unwrap();
    assert_eq!(h.c_members, ["#n2#d"]);
    let (mut fresh, _) = in_view(small(3, 6, &[]), 3);
    deliver(&mut fresh, 1, MessType::Hello, &hello(&["#n2#d"]));
    deliver(&mut fresh, 1, MessType::State, &state(1, true, &[], &[]));
    deliver(&mut fresh, 3, MessType::Hello, &hello(&[]));
    deliver(&mut fresh, 3, MessType::State, &state(3, true, &[], &[]));
    deliver(&mut fresh, 1, MessType::Close, &close());
    assert_eq!(fresh.phase(), Phase::Gather);
}

#[test]
fn a_member_late_for_the_close_joins_empty_and_the_balance_feeds_it() {
    let mut e = two_of_three_sent_state();
    deliver(&mut e, 2, MessType::Close, &close());
    assert_eq!(e.held().count(), 3);
    // n3 was only slow: HELLO, then its STATE claiming what it held.
    deliver(&mut e, 3, MessType::Hello, &hello(&[]));
    let p = Priority::Claimed;
    let acts = deliver(&mut e, 3, MessType::State, &state(3, true, &[(0, p)], &[]));
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Log(Level::Info, t) if t.contains("joins with nothing"))),
        "{acts:?}"
    );
    // Its claim is not taken; the leader (this node) balances it in.
    assert_eq!(e.table()[0].owner, node(1));
    assert!(acts.contains(&Action::StartTimer(Timer::Balance, Duration::ZERO)));
    let acts = e.handle(Event::Timer(Timer::Balance));
    let body = &multicast_body(&acts, MessType::Balance);
    let b = msg::Balance::decode(body, false).unwrap();
    assert_eq!(b.moves.len(), 2, "3/3/0 becomes 2/2/2: {b:?}");
    assert!(b.moves.iter().all(|(owner, _)| *owner == node(3)));
    let acts = deliver(&mut e, 1, MessType::Balance, body);
    assert_eq!(released(&acts).len(), 1, "{acts:?}");
}

#[test]
fn this_node_late_for_the_close_releases_everything() {
    // n2's view of the same round: its own STATE comes after n1's CLOSE.
    let (mut e, _) = in_view(small(2, 4, &[]), 2);
    let p = Priority::Claimed;
    // It held two VIFs in the last view.
    e.old[0] = Slot {
        owner: node(2),
        priority: p,
    };
    e.held[0] = true;
    deliver(&mut e, 1, MessType::Hello, &hello(&[]));
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    let acts = deliver(&mut e, 1, MessType::Close, &close());
    assert!(
        warned(&acts, "this node's STATE came after the exchange closed"),
        "{acts:?}"
    );
    assert_eq!(released(&acts), [0]);
    assert_eq!(e.held().count(), 0);
    assert!(e.table().iter().all(|s| s.owner == node(1)));
    // Its own STATE, late: it joins with nothing.
    deliver(&mut e, 2, MessType::Hello, &hello(&[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[(0, p)], &[]));
    assert!(acquired(&acts).is_empty(), "{acts:?}");
}

#[test]
fn a_vif_lost_to_a_tie_and_taken_back_by_preference_stays_up() {
    // After a merge n1 and n2 (this node) both held VIF 0 at CLAIMED;
    // n1's STATE comes first, so n2 loses the tie, but n2 prefers VIF 0
    // and takes it back in the same STATE: no release, no re-acquire.
    let (mut e, _) = in_view(small(2, 2, &[0]), 2);
    let p = Priority::Claimed;
    e.old[0] = Slot {
        owner: node(2),
        priority: p,
    };
    e.held[0] = true;
    deliver(&mut e, 1, MessType::State, &state(1, true, &[(0, p)], &[]));
    let acts = deliver(&mut e, 2, MessType::State, &state(2, true, &[(0, p)], &[0]));
    assert!(released(&acts).is_empty(), "{acts:?}");
    assert!(acquired(&acts).is_empty(), "{acts:?}");
    assert_eq!(e.table()[0].owner, node(2));
    assert_eq!(held(&e), [vip(0)]);
    // C's logic drops it and takes it again.
    let mut c = Engine::c_exact(small(2, 2, &[0]));
    c.handle(Event::Connected {
        private_group: "#n2#d",
    });
    c.handle(Event::View(View {
        id: ID,
        members: names(2),
        my_index: 1,
        cause: Cause::Join,
    }));
    c.old[0] = e.old[0];
    c.held[0] = true;
    deliver(&mut c, 1, MessType::State, &state(1, true, &[(0, p)], &[]));
    let acts = deliver(&mut c, 2, MessType::State, &state(2, true, &[(0, p)], &[0]));
    assert_eq!(released(&acts), [0], "{acts:?}");
}

#[test]
fn a_state_in_another_participant_s_name_is_refused() {
    let (mut e, _) = in_view(small(1, 4, &[]), 3);
    for n in 1..=3 {
        deliver(&mut e, n, MessType::Hello, &hello(&[]));
    }
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    // n2 claims to be n1 (10.0.0.1), with everything at PREFER_CLAIMED.
    let mut b = msg::State::decode(&state(2, true, &[], &[]), false).unwrap();
    b.real = node(1);
    b.held = (0..4).map(|v| (vip(v), Priority::PreferClaimed)).collect();
    let acts = deliver(&mut e, 2, MessType::State, &b.encode());
    assert!(warned(&acts, "#n1#d sent 10.0.0.1 first"), "{acts:?}");
    assert!(released(&acts).is_empty());
    assert!(!e.members()[1].got_state);
    deliver(&mut e, 3, MessType::State, &state(3, true, &[], &[]));
    // The round closes without the impostor; n1 and n3 share the VIFs.
    deliver(&mut e, 3, MessType::Close, &close());
    assert_eq!(e.phase(), Phase::Run);
    assert!(e
        .table()
        .iter()
        .all(|s| s.owner == node(1) || s.owner == node(3)));
    assert_eq!(e.held().count(), 2);
}

mod balance;
mod group;
mod placeholder;
mod quorum;
mod reannounce;

/// As C: the moves of a BALANCE that match are applied, one naming a
/// VIF this node does not have (or nobody in the view) is skipped and
/// said once per view.
#[test]
fn a_balance_applies_the_moves_it_can_match() {
    let (mut e, _) = in_view(small(2, 4, &[]), 2);
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    deliver(&mut e, 2, MessType::State, &state(2, true, &[], &[]));
    assert_eq!(e.table()[0].owner, node(1));
    let stranger = Ipv4Addr::new(203, 0, 113, 1);
    let moves = vec![
        (node(2), stranger),
        (node(2), vip(0)),
        (node(9), vip(2)),
        (node(2), stranger),
    ];
    let acts = deliver(
        &mut e,
        1,
        MessType::Balance,
        &msg::Balance { moves }.encode(),
    );
    assert_eq!(acquired(&acts), [0]);
    assert_eq!(e.table()[0].owner, node(2));
    assert_eq!(e.table()[2].owner, node(1));
    let said = |acts: &[Action]| {
        acts.iter()
            .filter(|a| matches!(a, Action::Log(_, t) if t.contains("skipping a move")))
            .count()
    };
    assert_eq!(said(&acts), 1, "{acts:?}");
    assert_eq!(e.members()[1].count, 3);
}

/// With a C node in the view (a STATE without HELLO), the counts are
/// C's: the sender's count from its STATE, VIFs this node does not have
/// included, kept for the view; claim-unclaimed follows them.
#[test]
fn with_a_c_node_in_the_view_counts_are_c_s() {
    let (mut e, _) = in_view(small(1, 3, &[]), 2);
    e.old_mature = true;
    deliver(&mut e, 1, MessType::Hello, &hello_with(&[0, 1, 2]));
    deliver(&mut e, 1, MessType::State, &state(1, true, &[], &[]));
    // n2 (C) holds two VIFs n1 does not have.
    let body = {
        let mut s = msg::State::decode(&state(2, true, &[], &[]), false).unwrap();
        s.held = vec![
            (Ipv4Addr::new(203, 0, 113, 1), Priority::Claimed),
            (Ipv4Addr::new(203, 0, 113, 2), Priority::Claimed),
        ];
        s.encode()
    };
    let acts = deliver(&mut e, 2, MessType::State, &body);
    assert!(!e.rust_view());
    // C: n2 counts 2, so n1 takes VIF 0 and 1, then VIF 2 too (a tie
    // at 2 goes to the lower index). A recount from this node's table
    // would have dealt them n1, n2, n1.
    assert_eq!(acquired(&acts), [0, 1, 2]);
    assert_eq!(e.members()[1].count, 2);
}
