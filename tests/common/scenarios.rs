//! End-to-end scenarios that run on either Spread ([`Backend::Sim`] in
//! `tests/e2e.rs` and `tests/daemon.rs`, [`Backend::Real`] in
//! `tests/real_spread.rs`): the same steps and the same assertions, so
//! spread-sim and real Spread 5.0.1 are held to one standard. Each
//! prints how long its failovers took (`eprintln!`, seen with
//! `--nocapture`), named by backend.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::cluster::{held_in, vif_lines, Backend, Cluster, Conf};
use super::scratch::write_file;

pub const SETTLE: Duration = Duration::from_secs(20);

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Prints a measured time, named by backend (`--nocapture` shows it).
pub fn timing(b: &Backend, what: &str, took: Duration) {
    eprintln!("TIMING {}: {what}: {} ms", b.name(), took.as_millis());
}

/// A cluster of `n` hosts and `vips` VIPs, all started and settled.
pub fn started(tag: &str, n: usize, vips: usize) -> Cluster {
    started_on(&Backend::Sim, tag, n, vips)
}

/// [`started`] on `b`.
pub fn started_on(b: &Backend, tag: &str, n: usize, vips: usize) -> Cluster {
    let mut c = Cluster::new_on(b, tag, n, vips, "");
    c.start_all();
    let vips = c.vips.clone();
    let all: Vec<usize> = (0..n).collect();
    c.wait_settled(&vips, &all, SETTLE);
    c
}

/// How long each host's log is now, to read what comes after.
pub fn log_marks(c: &Cluster) -> Vec<usize> {
    (0..c.hosts.len()).map(|i| c.log(i).len()).collect()
}

/// Host `i`'s log after `mark` bytes.
pub fn log_since(c: &Cluster, i: usize, mark: usize) -> String {
    c.log(i).get(mark..).unwrap_or_default().to_string()
}

/// Waits until host `i` logged, after `mark`, a membership of `n`
/// members.
pub fn wait_view(c: &Cluster, i: usize, mark: usize, n: usize) {
    let needle = format!(": {n} members, ");
    c.wait_for(
        &format!("h{} in a view of {n} members", i + 1),
        SETTLE,
        |c| log_since(c, i, mark).contains(&needle),
    );
}

/// Waits until every VIP of `vips` is up on exactly one host of `live`
/// (and on no other host), and the allocation then stays the same for
/// `steady`.
pub fn wait_steady(c: &Cluster, vips: &[Ipv4Addr], live: &[usize], steady: Duration) {
    let deadline = Instant::now() + SETTLE;
    let mut since: Option<(Instant, Vec<Vec<usize>>)> = None;
    loop {
        let holders = c.holders(vips);
        let settled = holders.iter().all(|h| h.len() == 1 && live.contains(&h[0]));
        since = match since {
            Some((t, h)) if settled && h == holders => {
                if t.elapsed() >= steady {
                    return;
                }
                Some((t, h))
            }
            _ if settled => Some((Instant::now(), holders.clone())),
            _ => None,
        };
        if Instant::now() > deadline {
            panic!(
                "not steady on {live:?} within {SETTLE:?}: holders {holders:?}\n{}",
                c.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `wackatrl -j` on host `i`, without blanks.
pub fn trl_json(c: &Cluster, i: usize) -> String {
    let out = c.wackatrl(i, &["-j"]);
    assert!(
        out.status.success(),
        "wackatrl -j on h{}: {}",
        i + 1,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A host dies (daemon SIGKILLed, link down, its Spread daemon gone):
/// the live hosts take its VIPs over.
pub fn a_dead_host_s_vips_move_to_the_live_hosts(b: &Backend) {
    let mut c = started_on(b, "kill", 3, 6);
    let vips = c.vips.clone();
    c.wait_for("2/2/2 before the crash", SETTLE, |c| {
        c.counts() == [2, 2, 2]
    });
    let had = c.held(0);
    let marks = log_marks(&c);
    let t0 = Instant::now();
    c.crash_host(0);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    timing(b, "a dead host's VIPs held by the others", t0.elapsed());
    assert_eq!(c.counts()[1..], [3, 3], "{}", c.logs());
    // A killed daemon releases nothing: the dead host still has its
    // addresses configured, but its link is down.
    assert_eq!(c.held(0), had, "the dead host's namespace was touched");
    for (i, &m) in marks.iter().enumerate().skip(1) {
        wait_view(&c, i, m, 2);
    }
    let after = format!(
        "{}{}",
        log_since(&c, 1, marks[1]),
        log_since(&c, 2, marks[2])
    );
    for v in &had {
        assert!(
            after.contains(&format!("{v} on e0:")),
            "nobody logged acquiring {v}\n{}",
            c.logs()
        );
    }
}

/// The Spread daemons partition (h1 | h2 h3): each component holds
/// every VIP once within itself (h1, alone, holds them all — wackamole's
/// behaviour in a partition); once the partition heals and the views
/// merge, no VIP is on two hosts.
pub fn partition_and_heal_leave_no_vip_on_two_hosts(b: &Backend) {
    let c = started_on(b, "part", 3, 6);
    let vips = c.vips.clone();
    let marks = log_marks(&c);
    let t0 = Instant::now();
    c.spread_components(&[vec![0], vec![1, 2]]);
    wait_view(&c, 0, marks[0], 1);
    wait_view(&c, 1, marks[1], 2);
    wait_view(&c, 2, marks[2], 2);
    c.wait_settled_among(&vips, &[0], SETTLE);
    c.wait_settled_among(&vips, &[1, 2], SETTLE);
    timing(b, "partition: each side holds every VIP", t0.elapsed());
    let counts = c.counts();
    assert_eq!(counts[0], 6, "{}", c.logs());
    assert_eq!(counts[1..], [3, 3], "{}", c.logs());
    let marks = log_marks(&c);
    let t0 = Instant::now();
    c.spread_components(&[vec![0, 1, 2]]);
    for (i, &m) in marks.iter().enumerate() {
        wait_view(&c, i, m, 3);
    }
    timing(b, "heal: every host in the merged view", t0.elapsed());
    wait_steady(&c, &vips, &[0, 1, 2], Duration::from_millis(1500));
    // Every host that gave a VIP up says so.
    let released: usize = (0..3)
        .map(|i| log_since(&c, i, marks[i]).matches("released VIF").count())
        .sum();
    assert!(released >= 6, "{}", c.logs());
}

/// A whole cluster cold-starts with `Mature = 3s`: nobody claims
/// anything before maturity, then every VIP is up once, 2/2/2.
pub fn a_cold_cluster_waits_for_maturity(b: &Backend) {
    let mut c = Cluster::new_on(b, "mature", 3, 6, "");
    let vips = c.vips.clone();
    for i in 0..3 {
        c.write_conf_with(
            i,
            &Conf {
                vifs: vif_lines(&vips),
                mature: "3s",
                ..Conf::default()
            },
        );
    }
    let t0 = Instant::now();
    c.start_all();
    while t0.elapsed() < Duration::from_secs(2) {
        assert_eq!(
            c.counts(),
            [0, 0, 0],
            "a VIP came up {:?} after start, before maturity\n{}",
            t0.elapsed(),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // All three are in the group, immature and waiting.
    for i in 0..3 {
        assert!(c.log(i).contains(": 3 members, "), "{}", c.logs());
        let json = trl_json(&c, i);
        assert!(json.contains("\"mature\":false"), "h{}: {json}", i + 1);
        assert!(json.contains("\"state\":\"BOOT\""), "h{}: {json}", i + 1);
    }
    assert_eq!(c.counts(), [0, 0, 0], "{}", c.logs());
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "settled {took:?} after start, before the 3 s maturity\n{}",
        c.logs()
    );
    assert_eq!(c.counts(), [2, 2, 2], "{}", c.logs());
    for i in 0..3 {
        assert!(c.log(i).contains("this node is mature"), "{}", c.logs());
    }
}

/// h1 prefers 10.80.0.101: it holds it; when h1 stops the VIP moves
/// to another host, and when h1 comes back the VIP returns to it.
pub fn a_preferred_vip_returns_to_its_preferrer(b: &Backend) {
    let mut c = Cluster::new_on(b, "pref", 3, 6, "");
    let vips = c.vips.clone();
    let pref = ip4("10.80.0.101");
    // h1's `on up` hook records who held each VIP before it.
    let ups = c.dir.join("ups");
    let hook = c.dir.join("up.sh");
    write_file(
        &hook,
        &format!(
            "#!/bin/sh\necho \"$WACKAMOLE_VIP from $WACKAMOLE_OWNER\" >>{}\n",
            ups.display()
        ),
        0o755,
    );
    c.write_conf(
        0,
        &vips,
        &format!(
            "Prefer e0:10.80.0.101/32\nRunScript {} on up",
            hook.display()
        ),
    );
    c.start_all();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    assert_eq!(c.holders(&[pref]), [[0]], "{}", c.logs());
    c.signal(0, "TERM");
    assert_eq!(c.wait_exit(0, SETTLE), Some(0), "{}", c.logs());
    c.wait_settled(&vips, &[1, 2], SETTLE);
    assert_eq!(c.counts()[1..], [3, 3], "{}", c.logs());
    let holder = c.hosts[c.holders(&[pref])[0][0]].addr;
    let mark = c.log(0).len();
    let _ = std::fs::remove_file(&ups);
    let t0 = Instant::now();
    c.start(0);
    c.wait_for("10.80.0.101 back on h1", SETTLE, |c| {
        c.holders(&[pref]) == [[0]]
    });
    timing(b, "preferrer restarted: its VIP back on it", t0.elapsed());
    // The hook runs right after the acquire; give it a moment.
    let want = format!("{pref} from {holder}\n");
    c.wait_for("the on up hook to name the previous holder", SETTLE, |_| {
        std::fs::read_to_string(&ups).is_ok_and(|t| t.lines().any(|l| format!("{l}\n") == want))
    });
    wait_steady(&c, &vips, &[0, 1, 2], Duration::from_millis(500));
    assert_eq!(c.holders(&[pref]), [[0]], "{}", c.logs());
    assert!(
        log_since(&c, 0, mark).contains("acquired VIF 1 (e0:10.80.0.101/32)"),
        "{}",
        c.logs()
    );
    // Every node's table says h1 holds it by preference.
    for i in 0..3 {
        let json = trl_json(&c, i);
        assert!(
            json.contains(
                "10.80.0.101/32\"],\"owner\":\"10.80.0.1\",\"priority\":\"PREFER_CLAIMED\""
            ),
            "h{}: {json}",
            i + 1
        );
    }
}

/// A VIF of two addresses: both are always on the same host, also
/// through a failover.
pub fn a_grouped_vif_moves_as_one(backend: &Backend) {
    let mut c = Cluster::new_on(backend, "group", 3, 6, "");
    let (a, b) = (ip4("10.80.0.101"), ip4("10.80.0.201"));
    let mut vifs = vec![format!("{{ e0:{a}/32 e0:{b}/32 }}")];
    vifs.extend(vif_lines(&c.vips[1..]));
    for i in 0..3 {
        c.write_conf_with(
            i,
            &Conf {
                vifs: vifs.clone(),
                ..Conf::default()
            },
        );
    }
    let mut all = c.vips.clone();
    all.push(b);
    c.start_all();
    c.wait_settled(&all, &[0, 1, 2], SETTLE);
    let holders = c.holders(&[a, b]);
    assert_eq!(holders[0], holders[1], "{}", c.logs());
    let old = holders[0][0];
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    // While the owner stops, watch the pair: the other hosts first, then
    // the old owner, so that seeing the pair on two hosts means both had
    // it at once.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let names: Vec<String> = others
            .iter()
            .chain([old].iter())
            .map(|&i| c.hosts[i].ns.name.clone())
            .collect();
        std::thread::spawn(move || {
            let mut bad = Vec::new();
            let mut samples = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let on: Vec<(usize, Vec<Ipv4Addr>)> = names
                    .iter()
                    .map(|n| held_in(n, &[a, b]))
                    .enumerate()
                    .filter(|(_, h)| !h.is_empty())
                    .collect();
                if on.len() > 1 {
                    bad.push(on);
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (bad, samples)
        })
    };
    let mark = log_marks(&c);
    let t0 = Instant::now();
    c.signal(old, "TERM");
    let code = c.wait_exit(old, SETTLE);
    c.wait_settled(&all, &others, SETTLE);
    timing(
        backend,
        "grouped VIF: its holder stopped, held elsewhere",
        t0.elapsed(),
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (bad, samples) = watcher.join().unwrap();
    assert_eq!(code, Some(0), "{}", c.logs());
    assert!(samples > 3);
    assert!(
        bad.is_empty(),
        "the pair was on two hosts at once (positions in {others:?} + [{old}]): {bad:?}\n{}",
        c.logs()
    );
    let holders = c.holders(&[a, b]);
    assert_eq!(holders[0], holders[1], "{}", c.logs());
    let new = holders[0][0];
    assert!(
        log_since(&c, new, mark[new]).contains(&format!("acquired VIF 1 (e0:{a}/32): {a} on e0:")),
        "{}",
        c.logs()
    );
    let line = log_since(&c, new, mark[new])
        .lines()
        .find(|l| l.contains("acquired VIF 1 "))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains(&format!("{b} on e0:")), "{line}");
    let line = log_since(&c, old, mark[old])
        .lines()
        .find(|l| l.contains("released VIF (e0:10.80.0.101/32)"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains(&a.to_string()) && line.contains(&b.to_string()),
        "h{} released: {line:?}\n{}",
        old + 1,
        c.logs()
    );
}

/// Host 1's Spread daemon crashes: its wackamole releases everything
/// (cut off from its group) and the others take its VIPs over; when
/// Spread is back, the node reconnects and gets its share again.
pub fn losing_spread_releases_and_the_others_take_over(b: &Backend) {
    let mut c = started_on(b, "crash", 3, 6);
    let t0 = Instant::now();
    c.crash_spread(0);
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[1, 2], SETTLE);
    timing(
        b,
        &format!("{} crash: its host's VIPs held by the others", b.system()),
        t0.elapsed(),
    );
    assert!(
        c.held(0).is_empty(),
        "a node cut off from its group serves nothing"
    );
    c.wait_log(0, &format!("lost {}", b.system()), SETTLE);
    // Spread comes back: the node reconnects and gets its share again.
    let t0 = Instant::now();
    c.restart_spread(0);
    let deadline = std::time::Instant::now() + SETTLE;
    while c.counts() != [2, 2, 2] && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.counts(), [2, 2, 2], "{}", c.logs());
    timing(
        b,
        &format!("{} restarted: 2/2/2 again", b.system()),
        t0.elapsed(),
    );
}
