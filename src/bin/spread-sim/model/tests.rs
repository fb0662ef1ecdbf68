use super::*;
use std::collections::HashMap;

const HINT: u32 = 0x8001_0080; // mess_type 1 from a little-endian sender

/// The session whose private group is `private` (u64::MAX if none).
fn session(w: &World, private: &str) -> SessionId {
    let key = private[1..]
        .split_once('#')
        .and_then(|(n, d)| Some((w.daemon_by_name(d)?, n.to_string())));
    key.and_then(|k| w.by_name.get(&k).copied())
        .unwrap_or(u64::MAX)
}

fn daemon(w: &World, name: &str) -> DaemonId {
    w.daemon_by_name(name).unwrap_or(99)
}

/// One line per output: what the scripted tests compare.
fn show(w: &World, o: &Out) -> String {
    let (to, msg) = match o {
        Out::Close { session } => return format!("close {session}"),
        Out::Deliver { to, msg } => (w.private_group(*to).unwrap_or("?"), msg),
    };
    let what = match msg {
        Delivery::Regular {
            service,
            sender,
            groups,
            hint,
            data,
        } => {
            let data = String::from_utf8_lossy(data);
            format!(
                "{service:#x} from {sender} to [{}] hint {hint:#x} {data:?}",
                groups.join(" ")
            )
        }
        Delivery::Membership {
            group,
            cause,
            group_id: [a, b, c],
            members,
            vs_sets,
            local_vs_set,
        } => {
            let vs: String = vs_sets
                .iter()
                .map(|v| format!("[{}]", v.join(" ")))
                .collect();
            format!(
                "{group} {cause:?} {a}.{b}.{c} [{}] vs {vs} local {local_vs_set}",
                members.join(" ")
            )
        }
        Delivery::Transition {
            group,
            group_id: [a, b, c],
        } => format!("{group} TRANSITION {a}.{b}.{c}"),
        Delivery::SelfLeave { group } => format!("{group} SELF-LEAVE"),
    };
    format!("{to}: {what}")
}

/// Runs one script command; returns what it printed.
fn exec(w: &mut World, cmd: &str) -> Vec<String> {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let list = |a: &str| -> Vec<String> {
        a.split(',')
            .filter(|g| *g != "-")
            .map(String::from)
            .collect()
    };
    let outs = match args[..] {
        ["connect", d, name, ref flag @ ..] => {
            let name = if name == "-" { "" } else { name };
            return vec![match w.connect(daemon(w, d), name, flag.is_empty()) {
                Ok((s, private)) => format!("= {s} {private}"),
                Err(e) => format!("= {e:?}"),
            }];
        }
        ["join", s, g] => w.join(session(w, s), g),
        ["leave", s, g] => w.leave(session(w, s), g),
        ["disconnect", s] => w.disconnect(session(w, s)),
        ["send", s, service, groups, data] => {
            let service = u32::from_str_radix(service.trim_start_matches("0x"), 16).unwrap();
            w.multicast(session(w, s), service, &list(groups), HINT, data.as_bytes())
        }
        ["crash", d] => w.crash(daemon(w, d)),
        ["restart", d] => w.restart(daemon(w, d)),
        ["heal"] => w.heal(),
        ["partition", parts] => {
            let parts: Vec<Vec<DaemonId>> = parts
                .split('/')
                .map(|p| {
                    list(p)
                        .iter()
                        .filter(|d| !d.is_empty())
                        .map(|d| daemon(w, d))
                        .collect()
                })
                .collect();
            match w.partition(&parts) {
                Ok(outs) => outs,
                Err(e) => return vec![format!("= error: {e}")],
            }
        }
        ["describe"] => return w.describe().lines().map(String::from).collect(),
        _ => panic!("bad script line {cmd:?}"),
    };
    outs.iter().map(|o| show(w, o)).collect()
}

/// A scripted test: `> cmd` lines run a command whose output must be the
/// lines that follow; `~ cmd` runs one quietly; `//` lines are comments.
/// Indentation is ignored.
#[track_caller]
fn run(w: &mut World, script: &str) {
    let lines = script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"));
    let (mut want, mut got) = (Vec::new(), Vec::new());
    for line in lines {
        if let Some(cmd) = line.strip_prefix('~') {
            exec(w, cmd);
            continue;
        }
        want.push(line.to_string());
        if let Some(cmd) = line.strip_prefix('>') {
            got.push(line.to_string());
            got.extend(exec(w, cmd).iter().map(|l| l.trim().to_string()));
        }
    }
    assert_eq!(got.join("\n"), want.join("\n"));
}

/// The join-multicast-leave and disconnect-dupname captures, one daemon.
#[test]
fn join_leave_disconnect_and_counters() {
    run(
        &mut World::new(&["cap"]),
        r#"
        > connect cap wack1
        = 1 #wack1#cap
        > connect cap wack2
        = 2 #wack2#cap
        > connect cap wack2
        = NotUnique
        > join #wack1#cap wack
        #wack1#cap: wack Join 1.1.1 [#wack1#cap] vs [#wack1#cap] local 0
        > join #wack2#cap wack
        #wack1#cap: wack Join 1.1.2 [#wack1#cap #wack2#cap] vs [#wack2#cap] local 0
        #wack2#cap: wack Join 1.1.2 [#wack1#cap #wack2#cap] vs [#wack2#cap] local 0
        // joining twice, leaving a group one is not in, joining a private group: ignored
        > join #wack2#cap wack
        > leave #wack1#cap other
        > join #wack2#cap #wack2#cap
        > send #wack1#cap 0x20 wack hello
        #wack1#cap: 0x20 from #wack1#cap to [wack] hint 0x80010080 "hello"
        #wack2#cap: 0x20 from #wack1#cap to [wack] hint 0x80010080 "hello"
        > leave #wack2#cap wack
        #wack2#cap: wack SELF-LEAVE
        #wack1#cap: wack Leave 1.1.3 [#wack1#cap] vs [#wack2#cap] local 0
        > join #wack2#cap wack
        #wack1#cap: wack Join 1.1.4 [#wack1#cap #wack2#cap] vs [#wack2#cap] local 0
        #wack2#cap: wack Join 1.1.4 [#wack1#cap #wack2#cap] vs [#wack2#cap] local 0
        // A goes away without leaving: B sees DISCONNECT, A gets nothing, A is unknown after
        > disconnect #wack1#cap
        #wack2#cap: wack Disconnect 1.1.5 [#wack2#cap] vs [#wack1#cap] local 0
        > disconnect #wack1#cap
        > send #wack1#cap 0x20 wack again
        // the last member leaves: only its self-leave; recreated in the same view,
        // the group's counter goes on so that no id names two views
        > leave #wack2#cap wack
        #wack2#cap: wack SELF-LEAVE
        > join #wack2#cap wack
        #wack2#cap: wack Join 1.1.6 [#wack2#cap] vs [#wack2#cap] local 0
        "#,
    );
}

#[test]
fn member_order_is_daemon_then_name_bytes() {
    run(
        &mut World::new(&["tb1", "tb2", "tb3"]),
        r#"
        ~ connect tb3 aa
        ~ connect tb1 zz
        ~ connect tb2 mm
        ~ connect tb1 Zz
        ~ connect tb1 ab
        ~ join #aa#tb3 g
        ~ join #zz#tb1 g
        ~ join #mm#tb2 g
        ~ join #Zz#tb1 g
        > join #ab#tb1 g
        #Zz#tb1: g Join 1.1.5 [#Zz#tb1 #ab#tb1 #zz#tb1 #mm#tb2 #aa#tb3] vs [#ab#tb1] local 0
        #ab#tb1: g Join 1.1.5 [#Zz#tb1 #ab#tb1 #zz#tb1 #mm#tb2 #aa#tb3] vs [#ab#tb1] local 0
        #zz#tb1: g Join 1.1.5 [#Zz#tb1 #ab#tb1 #zz#tb1 #mm#tb2 #aa#tb3] vs [#ab#tb1] local 0
        #mm#tb2: g Join 1.1.5 [#Zz#tb1 #ab#tb1 #zz#tb1 #mm#tb2 #aa#tb3] vs [#ab#tb1] local 0
        #aa#tb3: g Join 1.1.5 [#Zz#tb1 #ab#tb1 #zz#tb1 #mm#tb2 #aa#tb3] vs [#ab#tb1] local 0
        "#,
    );
}

/// Three daemons each with one member; tb1 is cut off, then healed.
#[test]
fn partition_then_heal() {
    run(
        &mut World::new(&["tb1", "tb2", "tb3"]),
        r#"
        ~ connect tb1 w1
        ~ connect tb2 w2
        ~ connect tb3 w3
        ~ join #w1#tb1 wack
        ~ join #w2#tb2 wack
        ~ join #w3#tb3 wack
        // the same single component again: nothing happens
        > partition tb3,tb1,tb2
        > partition tb3,tb2/tb1
        #w1#tb1: wack TRANSITION 1.1.3
        #w1#tb1: wack Network 1.2.1 [#w1#tb1] vs [#w1#tb1] local 0
        #w2#tb2: wack TRANSITION 1.1.3
        #w3#tb3: wack TRANSITION 1.1.3
        #w2#tb2: wack Network 2.3.1 [#w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3] local 0
        #w3#tb3: wack Network 2.3.1 [#w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3] local 0
        // messages, unicasts included, stay on their side
        > send #w1#tb1 0x10 wack,#w2#tb2 x
        #w1#tb1: 0x10 from #w1#tb1 to [wack #w2#tb2] hint 0x80010080 "x"
        // a group on one side only is not touched by the merge
        > join #w1#tb1 solo
        #w1#tb1: solo Join 1.2.1 [#w1#tb1] vs [#w1#tb1] local 0
        > heal
        #w1#tb1: wack Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w1#tb1][#w2#tb2 #w3#tb3] local 0
        #w2#tb2: wack Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w1#tb1][#w2#tb2 #w3#tb3] local 1
        #w3#tb3: wack Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w1#tb1][#w2#tb2 #w3#tb3] local 1
        > heal
        > describe
        component 0 view 1.4: tb1 tb2 tb3
        sessions: #w1#tb1 #w2#tb2 #w3#tb3
        group solo id 1.2.1: #w1#tb1
        group wack id 1.4.1: #w1#tb1 #w2#tb2 #w3#tb3
        "#,
    );
}

/// VS sets are ordered as Spread does: by the id of the view each comes
/// from, then by configuration order (here the older view of tb2+tb3
/// comes first; a partition that loses no member keeps the group's id).
#[test]
fn vs_sets_follow_previous_view_ids() {
    run(
        &mut World::new(&["tb1", "tb2", "tb3"]),
        r#"
        ~ connect tb1 w1
        ~ connect tb2 w2
        ~ connect tb3 w3
        ~ join #w2#tb2 g
        ~ join #w3#tb3 g
        > partition tb1/tb2,tb3
        > join #w1#tb1 g
        #w1#tb1: g Join 1.2.1 [#w1#tb1] vs [#w1#tb1] local 0
        > heal
        #w1#tb1: g Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3][#w1#tb1] local 1
        #w2#tb2: g Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3][#w1#tb1] local 0
        #w3#tb3: g Network 1.4.1 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3][#w1#tb1] local 0
        "#,
    );
}

#[test]
fn partition_input_is_validated() {
    run(
        &mut World::new(&["a", "b", "c"]),
        r#"
        > partition a,b
        = error: live daemon c is in no component
        > partition a,b/b,c
        = error: daemon b is listed twice
        > partition a,b,c/
        = error: an empty component
        > partition a,b,c,zz
        = error: no daemon number 99
        ~ crash c
        > partition a/b/c
        = error: daemon c is down
        > partition b/a
        > describe
        component 0 view 1.3: a
        sessions:
        component 1 view 2.4: b
        sessions:
        down: c
        "#,
    );
}

#[test]
fn crash_and_restart() {
    run(
        &mut World::new(&["tb1", "tb2", "tb3"]),
        r#"
        ~ connect tb1 w1
        ~ connect tb2 w2
        ~ connect tb3 w3
        ~ join #w1#tb1 wack
        ~ join #w2#tb2 wack
        ~ join #w3#tb3 wack
        > connect tb2 x2
        = 4 #x2#tb2
        // tb2's sessions are closed; the others see TRANSITION + NETWORK, no DISCONNECT
        > crash tb2
        close 2
        close 4
        #w1#tb1: wack TRANSITION 1.1.3
        #w3#tb3: wack TRANSITION 1.1.3
        #w1#tb1: wack Network 1.2.1 [#w1#tb1 #w3#tb3] vs [#w1#tb1 #w3#tb3] local 0
        #w3#tb3: wack Network 1.2.1 [#w1#tb1 #w3#tb3] vs [#w1#tb1 #w3#tb3] local 0
        > crash tb2
        > connect tb2 w2
        = DaemonDown
        // a daemon that comes back without clients changes no group
        > restart tb2
        > restart tb2
        > connect tb2 w2
        = 5 #w2#tb2
        > join #w2#tb2 wack
        #w1#tb1: wack Join 1.2.2 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2] local 0
        #w2#tb2: wack Join 1.2.2 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2] local 0
        #w3#tb3: wack Join 1.2.2 [#w1#tb1 #w2#tb2 #w3#tb3] vs [#w2#tb2] local 0
        // losing tb1 changes the representative
        > crash tb1
        close 1
        #w2#tb2: wack TRANSITION 1.2.2
        #w3#tb3: wack TRANSITION 1.2.2
        #w2#tb2: wack Network 2.4.1 [#w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3] local 0
        #w3#tb3: wack Network 2.4.1 [#w2#tb2 #w3#tb3] vs [#w2#tb2 #w3#tb3] local 0
        // restarted while partitioned: a component of its own
        ~ partition tb2/tb3
        > restart tb1
        > describe
        component 0 view 1.7: tb1
        sessions:
        component 1 view 2.5: tb2
        sessions: #w2#tb2
        group wack id 2.5.1: #w2#tb2
        component 2 view 3.6: tb3
        sessions: #w3#tb3
        group wack id 3.6.1: #w3#tb3
        "#,
    );
}

#[test]
fn self_discard_open_groups_and_multi_group() {
    run(
        &mut World::new(&["d"]),
        r#"
        ~ connect d a
        ~ connect d b
        ~ connect d c
        ~ join #a#d g
        ~ join #b#d g
        > send #a#d 0x60 g 1
        #b#d: 0x60 from #a#d to [g] hint 0x80010080 "1"
        // a non-member may send, and does not get its own message
        > send #c#d 0x10 g 2
        #a#d: 0x10 from #c#d to [g] hint 0x80010080 "2"
        #b#d: 0x10 from #c#d to [g] hint 0x80010080 "2"
        // nobody to deliver to: dropped
        > send #a#d 0x10 empty 3
        > send #a#d 0x10 - 3
        // several destinations: each receiver once, with the whole list
        ~ join #c#d h
        ~ join #b#d h
        > send #a#d 0x4 g,h,#b#d,#a#d 4
        #a#d: 0x4 from #a#d to [g h #b#d #a#d] hint 0x80010080 "4"
        #b#d: 0x4 from #a#d to [g h #b#d #a#d] hint 0x80010080 "4"
        #c#d: 0x4 from #a#d to [g h #b#d #a#d] hint 0x80010080 "4"
        "#,
    );
}

#[test]
fn private_group_unicast() {
    run(
        &mut World::new(&["tb1", "tb2"]),
        r#"
        ~ connect tb1 a
        ~ connect tb2 b
        // the same name on another daemon is another private group
        > connect tb2 a
        = 3 #a#tb2
        > send #a#tb1 0x2 #b#tb2 u
        #b#tb2: 0x2 from #a#tb1 to [#b#tb2] hint 0x80010080 "u"
        > send #a#tb1 0x2 #a#tb1 u
        #a#tb1: 0x2 from #a#tb1 to [#a#tb1] hint 0x80010080 "u"
        > send #a#tb1 0x42 #a#tb1 u
        > send #a#tb1 0x2 #zz#tb2,#b#tb9,#b u
        "#,
    );
}

#[test]
fn sessions_without_membership_get_data_only() {
    run(
        &mut World::new(&["tb1", "tb2"]),
        r#"
        ~ connect tb1 a
        > connect tb2 n nomemb
        = 2 #n#tb2
        ~ join #a#tb1 g
        > join #n#tb2 g
        #a#tb1: g Join 1.1.2 [#a#tb1 #n#tb2] vs [#n#tb2] local 0
        > send #a#tb1 0x20 g d
        #a#tb1: 0x20 from #a#tb1 to [g] hint 0x80010080 "d"
        #n#tb2: 0x20 from #a#tb1 to [g] hint 0x80010080 "d"
        > partition tb1/tb2
        #a#tb1: g TRANSITION 1.1.2
        #a#tb1: g Network 1.2.1 [#a#tb1] vs [#a#tb1] local 0
        > heal
        #a#tb1: g Network 1.4.1 [#a#tb1 #n#tb2] vs [#a#tb1][#n#tb2] local 0
        > leave #n#tb2 g
        #a#tb1: g Leave 1.4.2 [#a#tb1] vs [#n#tb2] local 0
        "#,
    );
}

#[test]
fn private_names() {
    let mut w = World::new(&["tb1", "tb2"]);
    let (a, _) = w.connect(0, "wack1", true).unwrap();
    for bad in ["a b", "x#y", "12345678901", "é", "!x", "\"q"] {
        assert_eq!(w.connect(0, bad, true), Err(Reject::IllegalName), "{bad:?}");
    }
    assert!(w.connect(0, "$~01234567", true).is_ok());
    assert_eq!(w.connect(2, "x", true), Err(Reject::DaemonDown));
    let (_, r1) = w.connect(0, "", true).unwrap();
    let (_, r2) = w.connect(0, "", true).unwrap();
    assert_ne!(r1, r2);
    for r in [&r1, &r2] {
        let name = r
            .strip_prefix('#')
            .and_then(|r| r.strip_suffix("#tb1"))
            .unwrap();
        assert!(
            check_private_name(name).is_ok() && name.starts_with('r'),
            "{r}"
        );
    }
    w.disconnect(a);
    assert!(
        w.connect(0, "wack1", true).is_ok(),
        "free again after a disconnect"
    );
}

// Paths that hold wherever the model is included from.
#[path = "tests/random.rs"]
mod random;
