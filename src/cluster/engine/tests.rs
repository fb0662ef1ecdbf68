//! The engine replayed against C wackamole 2.1.4: everything the Spread
//! group delivered to node tb1 in the captures goes in, and what the
//! engine multicasts must be, byte for byte, what C's tb1 sent.

use std::net::Ipv4Addr;
use std::path::Path;

use super::*;
use crate::cluster::msg::MessType;

const THREE_HOSTS: &str =
    include_str!("../../../tests/data/wackamole-2.1.4/three-hosts.decoded.txt");
const PREFER_JOIN: &str =
    include_str!("../../../tests/data/wackamole-2.1.4/prefer-join.decoded.txt");
const THREE_HOSTS_CONF: &str = include_str!("../../../tests/data/three-hosts.conf");

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// One line of a decoded capture.
#[derive(Debug)]
enum Line {
    View {
        id: [u32; 3],
        members: Vec<String>,
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
            lines.push(Line::View {
                id: [id[0], id[1], id[2]],
                members,
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
    changes: Vec<(Ipv4Addr, bool)>,
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
                   changes: &mut Vec<(Ipv4Addr, bool)>| {
        let mut queue = vec![e.handle(ev)];
        while let Some(actions) = queue.pop() {
            for act in actions {
                match act {
                    Action::Multicast { mess_type, body } => pending.push((mess_type, body)),
                    Action::Acquire(i) => changes.push((e.settings().vifs[i], true)),
                    Action::Release(i) => changes.push((e.settings().vifs[i], false)),
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
            Line::View { id, members } => {
                let my_index = members.iter().position(|m| *m == me).unwrap();
                let v = View {
                    id: *id,
                    members: members.clone(),
                    my_index,
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
    e.held().map(|i| e.settings().vifs[i]).collect()
}

#[test]
#[cfg(target_endian = "little")]
fn three_hosts_as_tb1() {
    let r = replay(THREE_HOSTS, settings(a("192.168.78.1")));
    // Four STATEs (one per view), one MATURING, two BALANCEs.
    assert_eq!(r.compared, 7);
    let up: Vec<Ipv4Addr> = r.changes.iter().filter(|c| c.1).map(|c| c.0).collect();
    let down: Vec<Ipv4Addr> = r.changes.iter().filter(|c| !c.1).map(|c| c.0).collect();
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
    let up: Vec<Ipv4Addr> = r.changes.iter().filter(|c| c.1).map(|c| c.0).collect();
    assert_eq!(
        up,
        ["101", "103", "105"].map(|o| a(&format!("192.168.78.{o}")))
    );
    assert_eq!(r.changes.last(), Some(&(a("192.168.78.101"), false)));
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
