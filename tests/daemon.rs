//! The daemon end to end: three `wackamole -d` in network namespaces on
//! a bridge, with `spread-sim` standing in for Spread. Run as root; they
//! print SKIPPED otherwise.

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{held_in, Backend, Cluster};
use common::netns::can_run;
use common::scenarios;
use common::scratch::{write_file, Scratch};

const SETTLE: Duration = Duration::from_secs(20);

fn three(tag: &str) -> Cluster {
    let mut c = Cluster::new(tag, 3, 6, "");
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    c
}

fn counts(c: &Cluster) -> Vec<usize> {
    (0..c.hosts.len()).map(|i| c.held(i).len()).collect()
}

#[test]
fn three_nodes_hold_every_vip_once_and_evenly() {
    if !can_run() {
        return;
    }
    let c = three("even");
    assert_eq!(counts(&c), [2, 2, 2], "{}", c.logs());
    // One clear line per acquisition and per membership.
    let log = c.log(0);
    assert!(log.contains("acquired VIF"), "{log}");
    assert!(log.contains("membership "), "{log}");
}

#[test]
fn wackatrl_agrees_with_ip_addr() {
    if !can_run() {
        return;
    }
    let c = three("trl");
    for i in 0..3 {
        let out = c.wackatrl(i, &["-l"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Every VIP is listed with its owner; the ones owned by this host
        // are exactly those up here.
        let mine: Vec<Ipv4Addr> = c.held(i);
        let owner_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("Owner: ")).collect();
        assert_eq!(owner_lines.len(), 6, "{text}");
        let here = format!("Owner: {}", c.hosts[i].addr);
        assert_eq!(
            owner_lines.iter().filter(|l| **l == here).count(),
            mine.len(),
            "{text}"
        );
        let json: String = String::from_utf8_lossy(&c.wackatrl(i, &["-j"]).stdout)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert!(json.contains("\"state\":\"RUN\""), "{json}");
        assert!(
            json.contains(&format!("\"node\":\"{}\"", c.hosts[i].addr)),
            "{json}"
        );
        assert!(
            json.contains("\"node_source\":\"fromNodeAddress\""),
            "{json}"
        );
        assert_eq!(
            json.matches("\"held_here\":true").count(),
            mine.len(),
            "{json}"
        );
    }
}

#[test]
fn sighup_adds_a_vip_without_dropping_any_other() {
    if !can_run() {
        return;
    }
    let c = three("hup");
    let mut more = c.vips.clone();
    let new: Ipv4Addr = "10.80.0.107".parse().unwrap();
    more.push(new);
    for i in 0..3 {
        c.write_conf(i, &more, "");
    }
    // Sample `ip addr` everywhere while the nodes reload.
    let stop = Arc::new(AtomicBool::new(false));
    let names: Vec<String> = c.hosts.iter().map(|h| h.ns.name.clone()).collect();
    let old = c.vips.clone();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = usize::MAX;
            let mut samples = 0;
            while !stop.load(Ordering::SeqCst) {
                let up: std::collections::HashSet<Ipv4Addr> =
                    names.iter().flat_map(|n| held_in(n, &old)).collect();
                worst = worst.min(up.len());
                samples += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            (worst, samples)
        })
    };
    for i in 0..3 {
        c.signal(i, "HUP");
    }
    c.wait_settled(&more, &[0, 1, 2], SETTLE);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let (worst, samples) = sampler.join().unwrap();
    assert!(samples > 3);
    assert_eq!(worst, 6, "a VIP went down during the reload\n{}", c.logs());
    for i in 0..3 {
        c.wait_log(i, "reloaded: VIFs added: e0:10.80.0.107/32", SETTLE);
        assert!(
            !c.log(i).contains("released VIF"),
            "h{}: {}",
            i + 1,
            c.log(i)
        );
    }
}

#[test]
fn a_broken_config_on_sighup_changes_nothing() {
    if !can_run() {
        return;
    }
    let c = three("bad");
    let before: Vec<Vec<Ipv4Addr>> = (0..3).map(|i| c.held(i)).collect();
    std::fs::write(
        &c.hosts[0].conf,
        "Group = wack\nVirtualInterfaces {\n e0:10.80.0.300/32\n",
    )
    .unwrap();
    c.signal(0, "HUP");
    c.wait_log(0, "reload refused", SETTLE);
    let log = c.log(0);
    assert!(log.contains("octet 300 is out of range"), "{log}");
    std::thread::sleep(Duration::from_millis(300));
    let after: Vec<Vec<Ipv4Addr>> = (0..3).map(|i| c.held(i)).collect();
    assert_eq!(before, after);
}

#[test]
fn sigterm_releases_everything_and_the_others_take_over() {
    if !can_run() {
        return;
    }
    let mut c = three("term");
    c.signal(0, "TERM");
    assert_eq!(c.wait_exit(0, SETTLE), Some(0), "{}", c.logs());
    assert!(c.held(0).is_empty(), "h1 released everything");
    assert!(!c.hosts[0].pidfile.exists(), "the pid file is gone");
    assert!(!c.hosts[0].control.exists(), "the control socket is gone");
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[1, 2], SETTLE);
    assert_eq!(counts(&c)[1..], [3, 3]);
}

#[test]
fn wackatrl_f_hands_over_and_s_brings_the_node_back() {
    if !can_run() {
        return;
    }
    let c = three("fail");
    let out = c.wackatrl(1, &["-f"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 2], SETTLE);
    assert!(c.held(1).is_empty());
    let out = c.wackatrl(1, &["-s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    // Balanced again once it is back ('all' rebalances at once).
    let deadline = std::time::Instant::now() + SETTLE;
    while counts(&c) != [2, 2, 2] && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(counts(&c), [2, 2, 2], "{}", c.logs());
}

/// Shared with real Spread (tests/common/scenarios.rs).
#[test]
fn losing_spread_releases_and_the_others_take_over() {
    if can_run() {
        scenarios::losing_spread_releases_and_the_others_take_over(&Backend::Sim);
    }
}

#[test]
fn hooks_run_on_acquire_and_release() {
    if !can_run() {
        return;
    }
    let dir = Scratch::new("wkm-hookscript");
    let script = dir.join("hook.sh");
    let out = dir.join("events");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\necho \"$WACKAMOLE_EVENT $WACKAMOLE_VIP\" >> {}\n",
            out.display()
        ),
        0o755,
    );
    let extra = format!(
        "RunScript {0} on up\nRunScript {0} on down\nRunScript {0} post up\n",
        script.display()
    );
    let mut c = Cluster::new("hooks", 2, 4, &extra);
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1], SETTLE);
    let events = |n: usize| -> String {
        let deadline = std::time::Instant::now() + SETTLE;
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if text.lines().count() >= n || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let text = events(4);
    for v in &vips {
        assert!(text.contains(&format!("on up {v}")), "{text}\n{}", c.logs());
    }
    assert!(text.contains("post up"), "{text}");
    c.signal(0, "TERM");
    assert_eq!(c.wait_exit(0, SETTLE), Some(0));
    let text = events(4 + 2 + 2);
    assert_eq!(
        text.matches("on down ").count(),
        2,
        "h1 released its two VIFs: {text}"
    );
}

#[test]
fn systemd_hears_ready_and_the_status() {
    if !can_run() {
        return;
    }
    let c = Cluster::new("sd", 1, 2, "");
    let sock_path = c.dir.join("notify");
    let rx = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let h = &c.hosts[0];
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &h.ns.name])
        .arg(common::cluster::wackamole_bin())
        .args(["-d", "-c"])
        .arg(&h.conf)
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    let deadline = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < deadline {
        if let Ok(n) = rx.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains("holding 2 of 2");
            got.push(m);
            if done {
                break;
            }
        }
    }
    // Out on purpose: the status says why.
    let forced = c.wackatrl(0, &["-f"]);
    let deadline = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < deadline {
        if let Ok(n) = rx.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains("out by wackatrl -f");
            got.push(m);
            if done {
                break;
            }
        }
    }
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "{got:?}");
    assert!(
        got.iter()
            .any(|m| m == "STATUS=RUN, holding 2 of 2 VIFs, 1 members"),
        "{got:?}"
    );
    assert!(forced.status.success(), "{forced:?}");
    assert!(
        got.iter().any(
            |m| m.starts_with("STATUS=DISCONNECTED, holding 0 of 2 VIFs")
                && m.ends_with(", out by wackatrl -f")
        ),
        "{got:?}"
    );
}

/// A reload that reorders the VIFs, regroups one and comments the file
/// keeps every address on exactly one host.
#[test]
fn a_reload_that_reorders_and_regroups_keeps_every_address_once() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("reord", 2, 2, "");
    c.start_all();
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1], SETTLE);
    let extra: Ipv4Addr = "10.80.0.201".parse().unwrap();
    let conf = common::cluster::Conf {
        vifs: vec![
            format!("{{ e0:{}/32 e0:{extra}/32 }}", vips[1]),
            format!("e0:{}/32", vips[0]),
        ],
        extra: "# a comment that moves nothing\n",
        ..Default::default()
    };
    for i in 0..2 {
        c.write_conf_with(i, &conf);
        c.signal(i, "HUP");
    }
    for i in 0..2 {
        c.wait_log(i, "reloaded:", SETTLE);
    }
    let mut all = vips.clone();
    all.push(extra);
    c.wait_settled(&all, &[0, 1], SETTLE);
    std::thread::sleep(Duration::from_millis(300));
    let holders = c.holders(&all);
    assert!(
        holders.iter().all(|h| h.len() == 1),
        "{holders:?}\n{}",
        c.logs()
    );
    assert_eq!(
        holders[1], holders[2],
        "the regrouped pair is together: {holders:?}"
    );
    // The unchanged VIF never went down.
    let owner0 = holders[0][0];
    assert!(
        !c.log(owner0)
            .contains(&format!("released VIF (e0:{}/32)", vips[0])),
        "{}",
        c.logs()
    );
}

/// A held address that vanishes (an `ip addr del` by hand) is put back
/// and announced again; one whose interface does not exist yet comes up
/// once the interface does, with one error for it meanwhile, not one per
/// retry.
#[test]
fn held_addresses_that_are_not_up_are_put_back() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("heal", 1, 1, "");
    let vip = c.vips[0];
    let late: Ipv4Addr = "10.81.0.1".parse().unwrap();
    c.write_conf_with(
        0,
        &common::cluster::Conf {
            vifs: vec![
                format!("e0:{vip}/32"),
                format!("d1:{late}/32"),
                "e0:[fd00:81::1]/64".to_string(),
            ],
            ..Default::default()
        },
    );
    c.start(0);
    c.wait_log(0, "none of its addresses came up", SETTLE);
    c.wait_for("the VIP on e0", SETTLE, |c| c.held(0) == [vip]);
    let ns = c.hosts[0].ns.name.clone();

    c.hosts[0]
        .ns
        .ip(&["addr", "del", &format!("{vip}/32"), "dev", "e0"]);
    assert!(c.held(0).is_empty(), "the address did not go");
    c.wait_for("the VIP put back", SETTLE, |c| c.held(0) == [vip]);
    c.wait_log(
        0,
        &format!("{vip} is held here but was not up: put it back"),
        SETTLE,
    );

    // The same for an IPv6 address.
    let has_v6 = |c: &Cluster| {
        c.hosts[0]
            .ns
            .ip(&["-6", "-o", "addr", "show", "dev", "e0"])
            .contains("inet6 fd00:81::1/64")
    };
    c.wait_for("the IPv6 VIP on e0", SETTLE, |c| has_v6(c));
    c.hosts[0]
        .ns
        .ip(&["-6", "addr", "del", "fd00:81::1/64", "dev", "e0"]);
    assert!(!has_v6(&c), "the IPv6 address did not go");
    c.wait_for("the IPv6 VIP put back", SETTLE, |c| has_v6(c));
    c.wait_log(
        0,
        "fd00:81::1 is held here but was not up: put it back",
        SETTLE,
    );

    // Two more checks fail for `late` (5 s apart) before its interface
    // appears; none of them may log again.
    std::thread::sleep(Duration::from_secs(6));
    c.hosts[0]
        .ns
        .ip(&["link", "add", "d1", "type", "veth", "peer", "name", "d1p"]);
    c.hosts[0].ns.ip(&["link", "set", "d1", "up"]);
    c.wait_for("the late address on d1", SETTLE, |_| {
        held_in(&ns, &[late]) == [late]
    });
    let log = c.log(0);
    // The acquire's own two lines (the address, the VIF), and no more.
    let errors = log
        .lines()
        .filter(|l| l.contains(&late.to_string()) && l.contains("error: "))
        .count();
    assert_eq!(errors, 2, "{log}");
    assert!(!log.contains("cannot be put back"), "{log}");
    assert!(
        log.contains(&format!("{late} is held here but was not up: put it back")),
        "{log}"
    );
}

/// A reload re-announces nothing by a path of its own: an address of a
/// held VIF that could not come up (its interface is missing) is never
/// announced, before or after a reload that leaves the VIF alone. The
/// reload used to restart every running announcement by a copy of the
/// acquire's code without that filter (and without the IPv6 NAs), so
/// every destination of the missing address failed and was logged.
#[test]
fn a_reload_announces_no_address_that_is_not_up() {
    if !can_run() {
        return;
    }
    let c = Cluster::new("renot", 1, 2, "");
    let (vip, other) = (c.vips[0], c.vips[1]);
    let late: Ipv4Addr = "10.81.0.1".parse().unwrap();
    // A slow schedule (32 rounds for each address's /24), so that it is
    // still running at the reload.
    let notify = "Notify { 10.0.0.0/8 throttle 8 }";
    let conf = |vifs: Vec<String>| common::cluster::Conf {
        vifs,
        extra: notify,
        ..Default::default()
    };
    let group = format!("{{ e0:{vip}/32 d1:{late}/32 }}");
    c.write_conf_with(0, &conf(vec![group.clone()]));
    let mut c = c;
    c.start(0);
    c.wait_log(0, "acquired VIF 1", SETTLE);
    c.wait_for("the VIP on e0", SETTLE, |c| c.held(0) == [vip]);
    let mark = c.log(0).len();
    c.write_conf_with(0, &conf(vec![group, format!("e0:{other}/32")]));
    c.signal(0, "HUP");
    c.wait_log(0, "reloaded: VIFs added", SETTLE);
    c.wait_for("the added VIP", SETTLE, |c| c.held(0).len() == 2);
    // Two notify ticks.
    std::thread::sleep(Duration::from_millis(2500));
    let after = c.log(0)[mark..].to_string();
    assert!(
        !after.contains(&format!("announcing {late} to")),
        "the reload announced an address that is not up:\n{after}"
    );
}

/// SIGHUP reads the key file again: a key file others can read is
/// refused (the running configuration and keys stay), a good one is
/// taken, and the node goes on holding its VIPs throughout.
#[test]
fn sighup_reads_the_shared_secret_again() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("rekey", 1, 2, "");
    let key = c.write_key("the first key of the cluster\n", 0o600);
    c.write_conf(0, &c.vips, &format!("SharedSecretFile = {}", key.display()));
    c.start(0);
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0], SETTLE);
    c.wait_log(0, "the group is authenticated: 1 key(s)", SETTLE);
    // Readable by others: refused, nothing changes.
    c.write_key(
        "a second key, rolled in\nthe first key of the cluster\n",
        0o644,
    );
    c.signal(0, "HUP");
    c.wait_log(0, "reload refused: ", SETTLE);
    assert!(c.log(0).contains("must not be readable"), "{}", c.log(0));
    // Fixed: taken (two keys now), and the VIPs never moved.
    c.write_key(
        "a second key, rolled in\nthe first key of the cluster\n",
        0o600,
    );
    c.signal(0, "HUP");
    c.wait_log(0, "reloaded: nothing changed", SETTLE);
    assert_eq!(c.held(0).len(), 2);
    assert!(!c.log(0).contains("released VIF"), "{}", c.log(0));
    assert!(!c.log(0).contains("rolled in"), "a key reached the log");
}
