//! Every production of the grammar and every error path, through the
//! public `parse`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::addr;

const MIN: &str = "Group = g\nVIFs { eth0:10.0.0.1/32 }\n";

fn parse_at(src: &str, file: &str) -> Result<Loaded, Errors> {
    parse(src, Path::new(file))
}

fn ok(src: &str) -> Loaded {
    match parse_at(src, "t.conf") {
        Ok(l) => l,
        Err(e) => panic!(
            "unexpected errors:\n{}\n--- in:\n{src}",
            e.lines().join("\n")
        ),
    }
}

/// `MIN` plus `extra`.
fn ok_with(extra: &str) -> Loaded {
    ok(&format!("{MIN}{extra}"))
}

fn errors(src: &str) -> Vec<Error> {
    match parse_at(src, "t.conf") {
        Ok(_) => panic!("parsed, but should not have:\n{src}"),
        Err(e) => e.errors,
    }
}

/// The one error `src` has, as displayed.
fn error(src: &str) -> String {
    let e = errors(src);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e[0].to_string()
}

fn error_with(extra: &str) -> String {
    error(&format!("{MIN}{extra}"))
}

fn warnings(l: &Loaded) -> Vec<String> {
    l.warnings.iter().map(|w| w.to_string()).collect()
}

fn a(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

// ---- defaults -------------------------------------------------------

#[test]
fn defaults_are_the_c_code_defaults() {
    let c = ok(MIN).config;
    assert_eq!(c.mature(), Duration::from_secs(300));
    assert_eq!(c.balance().interval, Duration::from_secs(300));
    assert_eq!(c.balance().rate, BalanceRate::PerRound(1));
    assert_eq!(c.arp_cache(), Duration::from_secs(60));
    assert_eq!(c.spread_retry_interval(), Duration::from_secs(5));
    assert_eq!(c.spread_text(), "4803");
    assert_eq!(c.spread(), &SpreadAddr::unix_port(4803));
    assert_eq!(c.control(), Path::new(DEFAULT_CONTROL));
    assert!(c.control_is_default());
    assert_eq!(c.log_facility(), LogFacility::Daemon);
    assert!(c.prefer().is_empty());
    assert!(c.preferred().is_empty());
    assert!(c.notify().is_empty());
    assert!(c.hooks().is_empty());
    assert!(ok(MIN).warnings.is_empty());
    // ModuleDir "." is the config's own directory.
    let l = parse_at(MIN, "/etc/wackamole/w.conf").unwrap();
    assert_eq!(l.config.module_dir(), Path::new("/etc/wackamole"));
    assert_eq!(l.config.file(), Path::new("/etc/wackamole/w.conf"));
}

// ---- scalar directives ------------------------------------------------

#[test]
fn spread_forms() {
    let c = ok_with("Spread = 4804\n").config;
    assert_eq!(c.spread(), &SpreadAddr::unix_port(4804));
    let c = ok_with("Spread = 4803@127.0.0.1\n").config;
    assert_eq!(c.spread_text(), "4803@127.0.0.1");
    assert_eq!(
        c.spread(),
        &SpreadAddr::Tcp {
            host: "127.0.0.1".into(),
            port: 4803
        }
    );
    let c = ok_with("spread = '4803@spread.example'\n").config;
    assert_eq!(c.spread_text(), "4803@spread.example");
    let c = ok_with("SPREAD = \"/run/spread/4803\"\n").config;
    assert_eq!(
        c.spread(),
        &SpreadAddr::Unix {
            path: "/run/spread/4803".into()
        }
    );
    assert_eq!(
        error_with("Spread = 99999\n"),
        "t.conf:3:10: invalid Spread address '99999': port 99999 is out of range 1-65535"
    );
    assert!(error_with("Spread = x@\n").contains("invalid Spread address 'x@'"));
}

#[test]
fn group() {
    assert_eq!(
        ok("Group = wack1\nVIPs { e:1.1.1.1/32 }").config.group(),
        "wack1"
    );
    assert_eq!(
        ok("group = 'a b'\nVIPs { e:1.1.1.1/32 }").config.group(),
        "a b"
    );
    assert_eq!(
        error("VIPs { e:1.1.1.1/32 }"),
        "t.conf: no Group configured: add 'Group = NAME' (the Spread group all nodes of the cluster join)"
    );
    assert_eq!(
        error("Group = \"\"\nVIPs { e:1.1.1.1/32 }"),
        "t.conf:1:9: Group must not be empty"
    );
    let long = "g".repeat(32);
    assert!(error(&format!("Group = {long}\nVIPs {{ e:1.1.1.1/32 }}"))
        .contains("is 32 bytes long; Spread allows at most 31"));
    ok(&format!(
        "Group = {}\nVIPs {{ e:1.1.1.1/32 }}",
        "g".repeat(31)
    ));
}

#[test]
fn control() {
    let c = ok_with("Control = /var/run/wack.it\n").config;
    assert_eq!(c.control(), Path::new("/var/run/wack.it"));
    assert!(!c.control_is_default());
    // Taken literally: C used it as a printf format.
    let c = ok_with("Control = '/tmp/%s%d'\n").config;
    assert_eq!(c.control(), Path::new("/tmp/%s%d"));
    let long = format!("/{}", "x".repeat(107));
    assert!(error_with(&format!("Control = {long}\n")).contains("at most 107"));
    ok_with(&format!("Control = /{}\n", "x".repeat(106)));
    assert_eq!(
        error_with("Control = ''\n"),
        "t.conf:3:11: Control must not be empty"
    );
}

#[test]
fn log_facility() {
    assert_eq!(
        ok_with("LogFacility = local3\n").config.log_facility(),
        LogFacility::Local(3)
    );
    assert_eq!(
        ok_with("logfacility = LOG_AUTHPRIV\n")
            .config
            .log_facility(),
        LogFacility::AuthPriv
    );
    let l = ok_with("LogFacility = nosuch\n");
    assert_eq!(l.config.log_facility(), LogFacility::Daemon);
    assert_eq!(
        warnings(&l),
        ["t.conf:3:15: warning: unknown LogFacility 'nosuch'; logging to facility daemon"]
    );
    // `Log` is not a directive.
    assert!(error_with("Log = daemon\n").starts_with("t.conf:3:1: unknown directive 'Log'"));
}

#[test]
fn times() {
    let c = ok_with("Mature = 7s\nArp-Cache = 2m\nSpreadRetryInterval = 3S\n").config;
    assert_eq!(c.mature(), Duration::from_secs(7));
    assert_eq!(c.arp_cache(), Duration::from_secs(120));
    assert_eq!(c.spread_retry_interval(), Duration::from_secs(3));
    assert_eq!(
        ok_with("mature = 2M\n").config.mature(),
        Duration::from_secs(120)
    );
    assert_eq!(ok_with("mature = 0s\n").config.mature(), Duration::ZERO);
    let l = ok_with("Mature = 2h\n");
    assert_eq!(l.config.mature(), Duration::from_secs(7200));
    assert_eq!(
        warnings(&l),
        ["t.conf:3:10: warning: '2h' is read as hours; C wackamole 2.1.4 read 'h' as seconds"]
    );
    assert_eq!(
        error_with("Mature = 5\n"),
        "t.conf:3:10: expected a time such as 30s, 5m or 1h for Mature (a unit is required), found '5'"
    );
    assert_eq!(
        error_with("Mature = soon\n"),
        "t.conf:3:10: expected a time such as 30s, 5m or 1h for Mature, found 'soon'"
    );
    assert!(error_with("Mature = '5s'\n").ends_with("found '5s'"));
    assert_eq!(
        error_with("Arp-Cache = 99999999999999999999s\n"),
        "t.conf:3:13: time '99999999999999999999s' is too large"
    );
    assert!(error_with("Mature = 71582789m\n").contains("too large"));
    ok_with("Mature = 71582788m\n");
}

#[test]
fn repeated_scalars_warn_and_the_last_wins() {
    let l = ok_with("Mature = 1s\nMature = 2s\n");
    assert_eq!(l.config.mature(), Duration::from_secs(2));
    assert_eq!(
        warnings(&l),
        ["t.conf:4:1: warning: Mature is set again (first at line 3); the last value wins"]
    );
}

// ---- Balance ------------------------------------------------------------

#[test]
fn balance_block() {
    let c = ok_with("Balance {\n AcquisitionsPerRound = 3\n Interval = 10s\n}\n").config;
    assert_eq!(c.balance().rate, BalanceRate::PerRound(3));
    assert_eq!(c.balance().interval, Duration::from_secs(10));
    assert_eq!(c.balance().timer(), Some(Duration::from_secs(10)));
    let c = ok_with("balance { acquisitionsperround = ALL }\n").config;
    assert_eq!(c.balance().rate, BalanceRate::All);
    assert_eq!(c.balance().timer(), None);
    // Interval alone keeps the default rate.
    let c = ok_with("Balance { Interval = 1m }").config;
    assert_eq!(c.balance().rate, BalanceRate::PerRound(1));
    // `all`, once given, stays (C never clears its flag).
    let c = ok_with("Balance { AcquisitionsPerRound = all AcquisitionsPerRound = 2 }").config;
    assert_eq!(c.balance().rate, BalanceRate::All);
}

#[test]
fn balance_effective_rate_is_capped_at_half_the_vifs() {
    let six = "Group = g\nVIFs { e:1.0.0.1/32 e:1.0.0.2/32 e:1.0.0.3/32 e:1.0.0.4/32 e:1.0.0.5/32 e:1.0.0.6/32 }\n";
    let c = ok(&format!("{six}Balance {{ AcquisitionsPerRound = 10 }}")).config;
    assert_eq!(c.balance().effective_rate(c.vifs().len()), 3);
    let c = ok(&format!("{six}Balance {{ AcquisitionsPerRound = 2 }}")).config;
    assert_eq!(c.balance().effective_rate(c.vifs().len()), 2);
    let c = ok(&format!("{six}Balance {{ AcquisitionsPerRound = all }}")).config;
    assert_eq!(c.balance().effective_rate(c.vifs().len()), 3);
    // One VIF: nothing can move.
    let c = ok_with("Balance { AcquisitionsPerRound = all }").config;
    assert_eq!(c.balance().effective_rate(1), 0);
}

#[test]
fn balance_errors() {
    assert_eq!(
        error_with("Balance {\n}\n"),
        "t.conf:3:9: empty Balance block"
    );
    assert_eq!(
        error_with("Balance AcquisitionsPerRound = 1\n"),
        "t.conf:3:9: expected '{' after Balance, found 'AcquisitionsPerRound'"
    );
    assert_eq!(
        error_with("Balance {\n Interval = 5s\nMature = 5s\n"),
        "t.conf:5:1: expected '}' to close Balance opened at line 3, found 'Mature'"
    );
    assert_eq!(
        error_with("Balance { Interval = 5s"),
        "t.conf:3:24: expected '}' to close Balance opened at line 3, found end of file"
    );
    assert_eq!(
        error_with("Balance { Rate = 5 }"),
        "t.conf:3:11: expected AcquisitionsPerRound, Interval or '}' in Balance, found 'Rate'"
    );
    assert_eq!(
        error_with("Balance { AcquisitionsPerRound = many }"),
        "t.conf:3:34: expected a number or 'all' for AcquisitionsPerRound, found 'many'"
    );
    assert_eq!(
        error_with("Balance { AcquisitionsPerRound = 4294967296 }"),
        "t.conf:3:34: number '4294967296' is too large (at most 4294967295)"
    );
    assert_eq!(
        error_with("Balance { Interval 5s }"),
        "t.conf:3:20: expected '=' after Interval, found '5s'"
    );
}

// ---- VirtualInterfaces -------------------------------------------------

#[test]
fn vifs_single_and_grouped() {
    let c = ok("Group = g\nVirtualInterfaces {\n eth0:10.0.0.1/24\n { eth0:10.0.0.2/32n16 eth1:192.168.0.2/32n29 }\n}\n").config;
    assert_eq!(c.vifs().len(), 2);
    let v = &c.vifs()[0];
    let m = v.v4().next().unwrap();
    assert_eq!(m.ifname, "eth0");
    assert_eq!(m.addr, a("10.0.0.1"));
    assert_eq!(m.netmask(), a("255.255.255.0"));
    assert_eq!(m.broadcast(), a("10.0.0.255"));
    assert_eq!(m.net_prefix, 24);
    assert_eq!(v.addrs.len(), 1);
    assert_eq!(v.id().wire(), a("10.0.0.1"));
    assert_eq!(v.pos, Pos { line: 3, col: 2 });
    let v = &c.vifs()[1];
    let all: Vec<&IfAddr> = v.v4().collect();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].addr, all[0].net_prefix), (a("10.0.0.2"), 16));
    assert_eq!((all[1].ifname.as_str(), all[1].net_prefix), ("eth1", 29));
    assert_eq!(v.id().wire(), a("10.0.0.2"));
    assert_eq!(v.v6().count(), 0);
}

#[test]
fn vifs_keyword_spellings_and_blocks_accumulate() {
    for kw in [
        "VirtualInterfaces",
        "virtualinterfaces",
        "VIPs",
        "vifs",
        "VIFS",
        "Vips",
    ] {
        let c = ok(&format!(
            "Group = g\n{kw} {{ e:1.1.1.1/32 }}\nVIFs {{ e:1.1.1.2/32 }}"
        ))
        .config;
        assert_eq!(c.vifs().len(), 2, "{kw}");
        assert_eq!(c.vifs()[1].id().wire(), a("1.1.1.2"));
    }
    // Braces need no blanks.
    assert_eq!(
        ok("Group=g\nVIFs{e:1.1.1.1/32{e:1.1.1.2/32}}")
            .config
            .vifs()
            .len(),
        2
    );
}

#[test]
fn vif_errors() {
    assert_eq!(
        error("Group = g\nVIFs {\n}\n"),
        "t.conf:2:6: empty VirtualInterfaces block"
    );
    assert_eq!(
        error("Group = g\n"),
        "t.conf: no virtual interfaces configured: add a VirtualInterfaces { ... } block"
    );
    assert_eq!(
        error("Group = g\nVIFs { e:1.1.1.1/32 { } }\n"),
        "t.conf:2:21: empty VIF group block"
    );
    assert_eq!(
        error("Group = g\nVIFs e:1.1.1.1/32\n"),
        "t.conf:2:6: expected '{' after VirtualInterfaces, found 'e:1.1.1.1/32'"
    );
    assert_eq!(
        error("Group = g\nVIFs { { e:1.1.1.1/32 { e:1.1.1.2/32 } } }\n"),
        "t.conf:2:23: expected an address (such as eth0:10.0.0.1/32) or '}' in a VIF group, found '{'"
    );
    assert_eq!(
        error("Group = g\nVIFs { { e:1.1.1.1/32\nNotify None\n"),
        "t.conf:3:1: expected '}' to close a VIF group opened at line 2, found 'Notify'"
    );
    assert_eq!(
        error("Group = g\nVIFs { bogus }\n"),
        "t.conf:2:8: expected an address (such as eth0:10.0.0.1/32), '{' or '}' in VirtualInterfaces, found 'bogus'"
    );
    assert_eq!(
        error("Group = g\nVIFs { \"e:1.1.1.1/32\" }\n"),
        "t.conf:2:8: expected an address (such as eth0:10.0.0.1/32), '{' or '}' in VirtualInterfaces, found \"e:1.1.1.1/32\""
    );
    assert_eq!(
        error("Group = g\nVIFs { 1.1.1.1/32 }\n"),
        "t.conf:2:8: '1.1.1.1/32' is not a valid address: a VIF address needs its interface (for example eth0:1.1.1.1/32)"
    );
    assert_eq!(
        error("Group = g\nVIFs { e:1.1.1.1 }\n"),
        "t.conf:2:8: 'e:1.1.1.1' is not a valid address: the /PREFIX is required (for example /32)"
    );
    assert_eq!(
        error("Group = g\nVIFs { e:1.1.1.1/32\n e:1.1.1.1/24 }\n"),
        "t.conf:3:2: address 1.1.1.1 is configured twice (first at 2:8); each address may appear once"
    );
    // Extras count against masters too.
    assert!(
        error("Group = g\nVIFs { e:1.1.1.1/32 { e:1.1.1.2/32 e:1.1.1.1/32 } }\n")
            .contains("address 1.1.1.1 is configured twice")
    );
    assert_eq!(
        error("Group = g\nVIFs { verylonginterface0:1.1.1.1/32 }\n"),
        "t.conf:2:8: interface name 'verylonginterface0' is 18 bytes long; Linux allows at most 15"
    );
}

#[test]
fn all_value_errors_are_reported_at_once() {
    let e = errors(
        "Group = g\nVIFs {\n e:1.1.1.300/32\n e:1.1.1.1/33\n e:1.1.1.1/32\n e:1.1.1.1/32\n}\n",
    );
    let lines: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            "t.conf:3:2: 'e:1.1.1.300/32' is not a valid address: octet 300 is out of range 0-255",
            "t.conf:4:2: 'e:1.1.1.1/33' is not a valid address: prefix 33 is out of range 0-32",
            "t.conf:6:2: address 1.1.1.1 is configured twice (first at 5:2); each address may appear once",
        ]
    );
}

#[test]
fn extras_limit() {
    let group = |n: usize| {
        let addrs: Vec<String> = (1..=n)
            .map(|i| format!("e:10.0.{}.{}/32", i / 250, i % 250 + 1))
            .collect();
        format!("Group = g\nVIFs {{ {{ {} }} }}\n", addrs.join(" "))
    };
    assert_eq!(ok(&group(30)).config.vifs()[0].addrs.len(), 30);
    assert_eq!(
        error(&group(31)),
        "t.conf:2:8: this VIF has 30 extra addresses; at most 29 may follow the first"
    );
}

#[test]
fn zero_prefix_reads_as_32_with_a_warning() {
    let l = ok("Group = g\nVIFs { e:1.1.1.1/0 }\n");
    assert_eq!(l.config.vifs()[0].v4().next().unwrap().prefix, 32);
    assert_eq!(
        warnings(&l),
        ["t.conf:2:8: warning: 'e:1.1.1.1/0': a zero prefix is read as 32, as C wackamole did on x86; write 32"]
    );
}

#[test]
fn many_vifs_warn_about_c_limits() {
    let vifs: Vec<String> = (0..255)
        .map(|i| format!("e:10.1.{}.{}/32", i / 200, i % 200 + 1))
        .collect();
    let l = ok(&format!("Group = g\nVIFs {{ {} }}", vifs.join("\n")));
    assert_eq!(l.config.vifs().len(), 255);
    assert_eq!(
        warnings(&l),
        ["t.conf: warning: 255 VIFs; C wackamole 2.1.4 nodes hold at most 254 and cannot share this cluster"]
    );
}

// ---- Prefer ---------------------------------------------------------------

const THREE: &str =
    "Group = g\nVIFs { e:10.1.2.5/32 e:10.1.3.5/32 { e:10.1.2.9/32 e:10.9.9.9/32 } }\n";

#[test]
fn prefer_none_and_single() {
    let c = ok(&format!("{THREE}Prefer None\n")).config;
    assert_eq!(c.prefer(), &[PreferEntry::None]);
    assert_eq!(c.preferred(), &[Ipv4Addr::UNSPECIFIED]);
    let l = ok(&format!("{THREE}prefer e:10.1.3.5/32\n"));
    assert!(l.warnings.is_empty());
    assert_eq!(l.config.preferred(), &[a("10.1.3.5")]);
    // The interface part is optional and ignored.
    assert_eq!(
        ok(&format!("{THREE}Prefer 10.1.3.5/32")).config.preferred(),
        &[a("10.1.3.5")]
    );
}

#[test]
fn prefer_list_and_ranges() {
    let l = ok(&format!(
        "{THREE}Prefer {{ e:10.1.3.5/32 10.1.2.0/24 }}\nPrefer None\n"
    ));
    assert_eq!(
        l.config.preferred(),
        &[
            a("10.1.3.5"),
            a("10.1.2.5"),
            a("10.1.2.9"),
            Ipv4Addr::UNSPECIFIED
        ]
    );
    assert_eq!(l.config.prefer().len(), 3);
    assert_eq!(
        warnings(&l),
        ["t.conf:3:24: warning: Prefer 10.1.2.0/24 covers 10.1.2.5 10.1.2.9; C wackamole 2.1.4 would send 0.1.2.0 1.1.2.0 2.1.2.0 3.1.2.0 ... (253 addresses) instead"]
    );
    // The bare form: C sends the masked address only.
    let l = ok(&format!("{THREE}Prefer e:10.1.2.77/24\n"));
    assert_eq!(l.config.preferred(), &[a("10.1.2.5"), a("10.1.2.9")]);
    assert_eq!(
        warnings(&l),
        ["t.conf:3:8: warning: Prefer e:10.1.2.77/24 covers 10.1.2.5 10.1.2.9; C wackamole 2.1.4 would send 10.1.2.0 instead"]
    );
}

#[test]
fn prefer_naming_no_vip_warns() {
    let l = ok(&format!("{THREE}Prefer e:10.7.7.7/32\n"));
    // Sent anyway, as C does: receivers ignore it.
    assert_eq!(l.config.preferred(), &[a("10.7.7.7")]);
    assert_eq!(
        warnings(&l),
        ["t.conf:3:8: warning: Prefer e:10.7.7.7/32 names no configured VIP"]
    );
    // An extra is no VIP of its own.
    let l = ok(&format!("{THREE}Prefer e:10.9.9.9/32\n"));
    assert_eq!(warnings(&l).len(), 1);
    let l = ok(&format!("{THREE}Prefer {{ 10.200.0.0/16 }}\n"));
    assert!(l.config.preferred().is_empty());
    assert!(warnings(&l)[0].contains("Prefer 10.200.0.0/16 names no configured VIP"));
}

#[test]
fn prefer_errors() {
    assert_eq!(
        error_with("Prefer myhost\n"),
        "t.conf:3:8: expected None, an address (such as eth0:10.0.0.1/32) or '{' after Prefer, found 'myhost'"
    );
    assert_eq!(error_with("Prefer { }\n"), "t.conf:3:8: empty Prefer block");
    assert_eq!(
        error_with("Prefer { None }\n"),
        "t.conf:3:10: expected an address (such as eth0:10.0.0.1/32) or '}' in Prefer, found 'None'"
    );
    assert_eq!(
        error_with("Prefer { 10.0.0.1/32\nGroup = h\n"),
        "t.conf:4:1: expected '}' to close Prefer opened at line 3, found 'Group'"
    );
    assert!(error_with("Prefer 10.0.0.1/40\n").contains("prefix 40 is out of range"));
}

// ---- Notify -------------------------------------------------------------

#[test]
fn notify_forms() {
    let c = ok_with("Notify None\n").config;
    assert!(c.notify().is_empty());
    assert!(c.notify_none());
    assert!(
        c.summary()
            .contains("Notify               (no entries): each VIP is not announced (Notify None)"),
        "{}",
        c.summary()
    );
    // No Notify at all is not the same: the VIPs are told to the segment.
    assert!(!ok(MIN).config.notify_none());
    // None beside entries: the entries are kept, and None still says
    // that a VIP they do not reach stays silent.
    let c = ok_with("Notify None\nNotify { eth0:10.0.0.1/32 }\n").config;
    assert_eq!(c.notify().len(), 1);
    assert!(c.notify_none());
    assert!(
        c.summary()
            .contains("Notify               1 entries; a VIP none reaches is not announced"),
        "{}",
        c.summary()
    );
    let c = ok_with("Notify arp-cache\n").config;
    assert_eq!(c.notify()[0].target, NotifyTarget::ArpCache);
    assert!(!c.notify()[0].ping);
    let c = ok_with(
        "Notify {\n eth0:10.0.0.1/32\n eth0:10.0.0.0/24 throttle 64\n 10.1.0.0/28 throttle 5 ping\n eth1:10.2.0.1/32 ping\n arp-cache\n ARP-CACHE ping\n}\n",
    )
    .config;
    let n = c.notify();
    assert_eq!(n.len(), 6);
    let block = |i: usize| match &n[i].target {
        NotifyTarget::Block(b) => b.clone(),
        t => panic!("{t:?}"),
    };
    assert_eq!(
        (block(0).to_string(), n[0].throttle, n[0].ping),
        ("eth0:10.0.0.1/32".into(), 0, false)
    );
    assert_eq!((block(1).prefix, n[1].throttle, n[1].ping), (24, 64, false));
    assert_eq!(
        (block(2).ifname.as_str(), n[2].throttle, n[2].ping),
        ("", 5, true)
    );
    assert_eq!((n[3].throttle, n[3].ping), (0, true));
    assert_eq!((&n[4].target, n[4].ping), (&NotifyTarget::ArpCache, false));
    assert_eq!((&n[5].target, n[5].ping), (&NotifyTarget::ArpCache, true));
    assert_eq!(n[1].pos, Pos { line: 5, col: 2 });
    // Blocks accumulate.
    assert_eq!(
        ok_with("Notify { arp-cache }\nNotify { 1.2.3.4/32 }")
            .config
            .notify()
            .len(),
        2
    );
}

#[test]
fn notify_extensions_warn_that_c_rejects_them() {
    let l = ok_with("Notify arp-cache ping\n");
    assert!(l.config.notify()[0].ping);
    assert!(warnings(&l)[0].contains("a Notify entry outside braces"));
    let l = ok_with("Notify eth0:10.0.0.0/24 throttle 3\n");
    assert_eq!(l.config.notify()[0].throttle, 3);
    assert!(warnings(&l)[0].contains("write 'Notify { eth0:10.0.0.0/24 ... }'"));
    let l = ok_with("Notify { eth0:10.0.0.0/24 ping throttle 9 }\n");
    assert_eq!(
        (l.config.notify()[0].throttle, l.config.notify()[0].ping),
        (9, true)
    );
    assert_eq!(
        warnings(&l),
        ["t.conf:3:27: warning: 'ping' before 'throttle': accepted here, but C wackamole 2.1.4 rejects it; write 'throttle N ping' for a file both accept"]
    );
}

#[test]
fn notify_errors() {
    assert_eq!(error_with("Notify { }\n"), "t.conf:3:8: empty Notify block");
    assert_eq!(
        error_with("Notify { arp-cache throttle 5 }\n"),
        "t.conf:3:20: expected an address, arp-cache or '}' ('throttle' applies to address entries only), found 'throttle'"
    );
    assert_eq!(
        error_with("Notify { 10.0.0.0/24 throttle }\n"),
        "t.conf:3:31: expected a number after throttle, found '}'"
    );
    assert_eq!(
        error_with("Notify { 10.0.0.0/24 throttle 5 throttle 6 }\n"),
        "t.conf:3:33: expected an address (such as eth0:10.0.0.1/32), arp-cache or '}' in Notify, found 'throttle'"
    );
    assert_eq!(
        error_with("Notify { router }\n"),
        "t.conf:3:10: expected an address (such as eth0:10.0.0.1/32), arp-cache or '}' in Notify, found 'router'"
    );
    assert_eq!(
        error_with("Notify {\n 10.0.0.1/32\nBalance { Interval = 1s }\n"),
        "t.conf:5:1: expected '}' to close Notify opened at line 3, found 'Balance'"
    );
    assert_eq!(
        error_with("Notify everyone\n"),
        "t.conf:3:8: expected None, arp-cache, an address or '{' after Notify, found 'everyone'"
    );
}

// ---- RunDynamic, Perl, ModuleDir ------------------------------------------

#[test]
fn run_dynamic_hooks() {
    let l = parse_at(
        &format!(
            "{MIN}RunDynamic funcs:killhup on up\nModuleDir = mods\nRunDynamic \"x:y\" POST DOWN\nRunDynamic MyModule::DoMagic post up\nRunDynamic dump on down\nPerlUseLib /opt/site\nPerlUse MyModule\n"
        ),
        "/etc/w/w.conf",
    )
    .unwrap();
    let h = l.config.hooks();
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].event, HookEvent::OnUp);
    assert_eq!(
        h[0].target,
        HookTarget::Shared {
            module: "funcs".into(),
            func: "killhup".into(),
            module_dir: "/etc/w".into()
        }
    );
    assert_eq!(h[0].pos, Pos { line: 3, col: 1 });
    assert_eq!(h[1].event, HookEvent::PostDown);
    assert_eq!(
        h[1].target,
        HookTarget::Shared {
            module: "x".into(),
            func: "y".into(),
            module_dir: "/etc/w/mods".into()
        }
    );
    assert_eq!(h[2].event, HookEvent::PostUp);
    assert_eq!(
        h[2].target,
        HookTarget::Perl {
            sub_name: "MyModule::DoMagic".into()
        }
    );
    assert_eq!(h[3].event, HookEvent::OnDown);
    assert_eq!(
        h[3].target,
        HookTarget::Perl {
            sub_name: "dump".into()
        }
    );
    assert_eq!(l.config.perl_use_lib(), ["/opt/site"]);
    assert_eq!(l.config.perl_use(), ["MyModule"]);
    assert_eq!(l.config.module_dir(), Path::new("/etc/w/mods"));
    assert!(l.warnings.is_empty());
    // An absolute ModuleDir stays.
    let c = ok_with("ModuleDir = /usr/lib/wackamole\nRunDynamic m:f on up\n").config;
    assert!(matches!(&c.hooks()[0].target,
        HookTarget::Shared { module_dir, .. } if module_dir == Path::new("/usr/lib/wackamole")));
}

#[test]
fn run_dynamic_blanks_between_event_words() {
    let l = ok_with("RunDynamic m:f on\tup\n");
    assert_eq!(l.config.hooks()[0].event, HookEvent::OnUp);
    assert!(warnings(&l)[0].contains("'on' and 'up' not separated by exactly one space"));
}

#[test]
fn run_dynamic_errors() {
    assert_eq!(
        error_with("RunDynamic m:f\n"),
        "t.conf:4:1: expected 'on up', 'on down', 'post up', 'post down', 'check up' or 'check down' after RunDynamic, found end of file"
    );
    assert_eq!(
        error_with("RunDynamic m:f on\nup\n"),
        "t.conf:4:1: expected 'up' or 'down' after 'on' on the same line, found 'up'"
    );
    assert_eq!(
        error_with("RunDynamic m:f on sideways\n"),
        "t.conf:3:19: expected 'up' or 'down' after 'on' on the same line, found 'sideways'"
    );
    assert_eq!(
        error_with("RunDynamic :f on up\n"),
        "t.conf:3:12: invalid RunDynamic ':f': no module before ':'"
    );
    assert_eq!(
        error_with("RunDynamic m: on up\n"),
        "t.conf:3:12: invalid RunDynamic 'm:': no function after ':'"
    );
    assert_eq!(
        error_with("RunDynamic '' on up\n"),
        "t.conf:3:12: invalid RunDynamic '': empty"
    );
    assert_eq!(
        error_with("PerlUse\n"),
        "t.conf:4:1: expected a Perl module name after PerlUse, found end of file"
    );
    assert_eq!(
        error_with("PerlUseLib = /x\n"),
        "t.conf:3:12: expected a directory after PerlUseLib, found '='"
    );
}

#[test]
fn run_script_hooks() {
    let l = ok_with(
        "RunScript /usr/local/sbin/vip-up on up\nRunScript '/opt/my hooks/down' on down\nrunscript /x POST\tUP\nRunDynamic m:f post down\n",
    );
    // Beyond C, which rejects the whole directive: no warning about how
    // it is written (the blanks of 'POST\tUP').
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let h = l.config.hooks();
    assert_eq!(h.len(), 4);
    let script = |p: &str| HookTarget::Script { path: p.into() };
    assert_eq!(h[0].target, script("/usr/local/sbin/vip-up"));
    assert_eq!(h[0].event, HookEvent::OnUp);
    assert_eq!(h[0].pos, Pos { line: 3, col: 1 });
    assert_eq!(h[1].target, script("/opt/my hooks/down"));
    assert_eq!(h[1].event, HookEvent::OnDown);
    assert_eq!(h[2].target, script("/x"));
    assert_eq!(h[2].event, HookEvent::PostUp);
    // Config order is kept across the two directives.
    assert!(matches!(h[3].target, HookTarget::Shared { .. }));
    let s = l.config.summary();
    assert!(s.contains("Hooks                4"), "{s}");
    assert!(
        s.contains("on up      program /usr/local/sbin/vip-up"),
        "{s}"
    );
}

#[test]
fn run_script_errors() {
    assert_eq!(
        error_with("RunScript vip-up on up\n"),
        "t.conf:3:11: RunScript path 'vip-up' is not absolute; write the full path (/usr/local/sbin/...)"
    );
    assert_eq!(
        error_with("RunScript ./bin/x on up\n"),
        "t.conf:3:11: RunScript path './bin/x' is not absolute; write the full path (/usr/local/sbin/...)"
    );
    assert_eq!(
        error_with("RunScript '' post down\n"),
        "t.conf:3:11: RunScript must not be empty"
    );
    assert_eq!(
        error_with("RunScript /x\n"),
        "t.conf:4:1: expected 'on up', 'on down', 'post up', 'post down', 'check up' or 'check down' after RunScript, found end of file"
    );
    assert_eq!(
        error_with("RunScript /x on\ndown\n"),
        "t.conf:4:1: expected 'up' or 'down' after 'on' on the same line, found 'down'"
    );
    assert_eq!(
        error_with("RunScript /x post sideways\n"),
        "t.conf:3:19: expected 'up' or 'down' after 'post' on the same line, found 'sideways'"
    );
    assert_eq!(
        error_with("RunScript on up\n"),
        "t.conf:3:14: expected 'on up', 'on down', 'post up', 'post down', 'check up' or 'check down' after RunScript, found 'up'"
    );
    assert_eq!(
        error_with("RunScript\n"),
        "t.conf:4:1: expected the absolute path of a program after RunScript, found end of file"
    );
    // A relative path and a bad RunDynamic are both reported in one run.
    let e = errors(&format!("{MIN}RunScript x on up\nRunDynamic :f on up\n"));
    assert_eq!(e.len(), 2, "{e:#?}");
}

// ---- lexical matters ---------------------------------------------------------

#[test]
fn comments_anywhere() {
    let c = ok("# head\nGroup = g # tail\nVIFs { # open\n e:1.1.1.1/32 # addr\n { e:1.1.1.2/32 #in\n e:1.1.1.3/32 } #x\n} #close\n# end").config;
    assert_eq!(c.vifs().len(), 2);
    assert_eq!(c.vifs()[1].addrs.len(), 2);
    // '#' ends a bare word.
    assert_eq!(
        ok("Group = wack#1\nVIFs { e:1.1.1.1/32 }").config.group(),
        "wack"
    );
    // ... but not a quoted one.
    assert_eq!(
        ok("Group = 'wack#1'\nVIFs { e:1.1.1.1/32 }").config.group(),
        "wack#1"
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let c = ok("GROUP = g\nvirtualINTERFACES { e:1.1.1.1/32 }\nNOTIFY { ARP-CACHE PING }\nPREFER NONE\nBALANCE { ACQUISITIONSPERROUND = ALL INTERVAL = 1S }\nsPrEaDrEtRyInTeRvAl = 1s\nmoduledir = x\nrundynamic M::f ON UP\nPERLUSE X\nperluselib y\nlogfacility = daemon\ncontrol = /c\narp-CACHE = 5s\nmature = 1s\n").config;
    assert_eq!(c.notify().len(), 1);
    assert_eq!(c.balance().rate, BalanceRate::All);
    assert_eq!(c.arp_cache(), Duration::from_secs(5));
    assert_eq!(c.hooks().len(), 1);
}

#[test]
fn glued_equals_are_split_with_a_warning() {
    let l = ok(
        "Group=wack1\nVIFs { e:1.1.1.1/32 }\nMature= 3s\nArp-Cache =4s\nBalance { Interval=2s }\n",
    );
    assert_eq!(l.config.group(), "wack1");
    assert_eq!(l.config.mature(), Duration::from_secs(3));
    assert_eq!(l.config.arp_cache(), Duration::from_secs(4));
    assert_eq!(l.config.balance().interval, Duration::from_secs(2));
    assert_eq!(
        warnings(&l),
        [
            "t.conf:1:1: warning: 'Group=wack1' without blanks around '=': accepted here, but C wackamole 2.1.4 rejects it; write 'Group = wack1' for a file both accept",
            "t.conf:3:1: warning: 'Mature=' without blanks around '=': accepted here, but C wackamole 2.1.4 rejects it; write 'Mature = ...' for a file both accept",
            "t.conf:4:11: warning: '=4s' with no blank after '=': accepted here, but C wackamole 2.1.4 rejects it; write '= 4s' for a file both accept",
            "t.conf:5:11: warning: 'Interval=2s' without blanks around '=': accepted here, but C wackamole 2.1.4 rejects it; write 'Interval = 2s' for a file both accept",
        ]
    );
    // A value may itself hold '=' and ':'.
    assert_eq!(
        ok("Group = a=b:c\nVIFs { e:1.1.1.1/32 }").config.group(),
        "a=b:c"
    );
}

#[test]
fn values_c_lexes_as_other_tokens_are_accepted_with_a_warning() {
    let l = ok("Group = all\nVIFs { e:1.1.1.1/32 }");
    assert_eq!(l.config.group(), "all");
    assert_eq!(
        warnings(&l),
        ["t.conf:1:9: warning: 'all' is read by C as a keyword, not a string: accepted here, but C wackamole 2.1.4 rejects it; quote it (\"all\") for a file both accept"]
    );
    assert_eq!(
        ok("Group = 1234\nVIFs { e:1.1.1.1/32 }").config.group(),
        "1234"
    );
    assert_eq!(ok("Group = 5s\nVIFs { e:1.1.1.1/32 }").config.group(), "5s");
    assert!(warnings(&ok("Group = 1.2.3.4/5\nVIFs { e:1.1.1.1/32 }"))[0].contains("an address"));
    // Quoted: what C accepts too, no warning.
    assert!(ok("Group = \"all\"\nVIFs { e:1.1.1.1/32 }")
        .warnings
        .is_empty());
    // Spread takes a number without a warning.
    assert!(ok_with("Spread = 4803").warnings.is_empty());
    // A directive keyword where a value belongs means a missing value.
    assert_eq!(
        error("Group =\nVIFs { e:1.1.1.1/32 }"),
        "t.conf:2:1: expected a group name (quote it if 'VIFs' is meant), found 'VIFs'"
    );
}

#[test]
fn quoted_strings() {
    assert_eq!(
        ok("Group = \"a b\"\nVIFs { e:1.1.1.1/32 }").config.group(),
        "a b"
    );
    assert_eq!(
        ok("Group = 'say \"hi\"'\nVIFs { e:1.1.1.1/32 }")
            .config
            .group(),
        "say \"hi\""
    );
    // A quoted string may span lines; positions after it stay right.
    assert_eq!(
        error("Control = '/a\nb'\nGroup = g\nVIFs { e:1.1.1.1/32 }\nbogus"),
        "t.conf:5:1: unknown directive 'bogus'"
    );
    // C's longest-match rule: quotes glued to more text are part of a
    // bare word.
    assert_eq!(
        ok("Group = \"ab\"cd\nVIFs { e:1.1.1.1/32 }").config.group(),
        "\"ab\"cd"
    );
}

#[test]
fn invalid_utf8_in_a_value_is_an_error_but_not_in_a_comment() {
    let bytes = b"# caf\xe9\nGroup = g\xe9\nVIFs { e:1.1.1.1/32 }";
    let text = String::from_utf8_lossy(bytes);
    assert_eq!(error(&text), "t.conf:2:9: value is not valid UTF-8");
    let text = String::from_utf8_lossy(b"# caf\xe9\nGroup = g\nVIFs { e:1.1.1.1/32 }");
    ok(&text);
}

#[test]
fn directive_errors() {
    assert_eq!(
        error("Spred = 4803\n"),
        "t.conf:1:1: unknown directive 'Spred' (did you mean 'Spread'?)"
    );
    assert_eq!(
        error("Virtual {}\n"),
        "t.conf:1:1: unknown directive 'Virtual' (did you mean 'VirtualInterfaces'?)"
    );
    assert_eq!(error("xyzzy\n"), "t.conf:1:1: unknown directive 'xyzzy'");
    assert_eq!(error("{\n"), "t.conf:1:1: expected a directive, found '{'");
    assert_eq!(error("}\n"), "t.conf:1:1: expected a directive, found '}'");
    assert_eq!(
        error("= 5\n"),
        "t.conf:1:1: expected a directive, found '='"
    );
    assert_eq!(
        error("\"Group\" = g\n"),
        "t.conf:1:1: expected a directive, found \"Group\""
    );
    assert_eq!(
        error("ping\n"),
        "t.conf:1:1: expected a directive ('ping' belongs only inside Notify), found 'ping'"
    );
    assert_eq!(
        error("Interval = 5s\n"),
        "t.conf:1:1: expected a directive ('Interval' belongs only inside Balance { }), found 'Interval'"
    );
    assert_eq!(
        error("Group g\n"),
        "t.conf:1:7: expected '=' after Group, found 'g'"
    );
    assert_eq!(
        error("Group =\n"),
        "t.conf:2:1: expected a group name, found end of file"
    );
    assert_eq!(
        error("Group = {\n"),
        "t.conf:1:9: expected a group name, found '{'"
    );
}

#[test]
fn the_issue_example_message() {
    let src = "Spread = 4803\nGroup = wack1\nVirtualInterfaces {\n  eth0:10.0.0.1/32\n  eth0:10.0.0.2/32\nNotify {\n  arp-cache\n}\n";
    let e = parse_at(src, "wackamole.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "wackamole.conf:6:1: expected '}' to close VirtualInterfaces opened at line 3, found 'Notify'"
    );
    assert!(matches!(
        e.errors[0].kind,
        ErrorKind::Unclosed {
            block: "VirtualInterfaces",
            opened: 3,
            ..
        }
    ));
}

#[test]
fn a_syntax_error_keeps_the_earlier_value_errors() {
    let e = errors("Group = g\nVIFs { e:1.1.1.999/32 }\nbogus\n");
    assert_eq!(e.len(), 2);
    assert!(matches!(e[0].kind, ErrorKind::BadAddress { .. }));
    assert!(matches!(e[1].kind, ErrorKind::UnknownDirective { .. }));
}

#[test]
fn errors_and_warnings_list_in_file_order() {
    let e = parse_at(
        "Mature = 1h\nVIFs { e:1.1.1.1/32 e:1.1.1.1/32 }\n",
        "t.conf",
    )
    .unwrap_err();
    assert_eq!(
        e.lines(),
        [
            "t.conf:1:10: warning: '1h' is read as hours; C wackamole 2.1.4 read 'h' as seconds",
            "t.conf:2:21: address 1.1.1.1 is configured twice (first at 2:8); each address may appear once",
            "t.conf: no Group configured: add 'Group = NAME' (the Spread group all nodes of the cluster join)",
        ]
    );
}

#[test]
fn load_reads_the_named_file_and_reports_a_missing_one() {
    let dir = std::env::temp_dir().join(format!("wackamole-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("w.conf");
    std::fs::write(&f, MIN).unwrap();
    let l = load(Some(&f)).unwrap();
    assert_eq!(l.config.group(), "g");
    let missing = dir.join("nope.conf");
    let e = load(Some(&missing)).unwrap_err();
    assert!(matches!(e.errors[0].kind, ErrorKind::Io(_)));
    assert!(e
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_others_could_change_is_refused_from_the_working_directory_and_warned_of_otherwise() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("wackamole-trust-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("wackamole.conf");
    std::fs::write(&f, MIN).unwrap();
    let mode = |m| std::fs::set_permissions(&f, std::fs::Permissions::from_mode(m)).unwrap();
    mode(0o644);
    for origin in [Origin::Given, Origin::SysConfDir, Origin::WorkingDir] {
        let l = read(&f, origin).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.origin(), origin);
    }
    mode(0o666);
    let e = read(&f, Origin::WorkingDir).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: refusing a configuration found in the working directory: it is writable by everyone (mode 0666); \
             without -c one is used only if root (or the user running wackamole) owns it and nobody else may write it: \
             chmod go-w it, or name the file with -c FILE",
            f.display()
        )
    );
    let l = read(&f, Origin::Given).unwrap();
    assert_eq!(
        l.warnings[0].to_string(),
        format!(
            "{}: warning: it is writable by everyone (mode 0666), and what it says runs as root (its hooks): chmod go-w it",
            f.display()
        )
    );
    mode(0o664);
    assert!(read(&f, Origin::SysConfDir).unwrap().warnings[0]
        .to_string()
        .contains("writable by its group (mode 0664)"));
    mode(0o644);
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(&f, Some(4_000_321), None).unwrap();
        let e = read(&f, Origin::WorkingDir).unwrap_err().to_string();
        assert!(e.contains(": it belongs to uid 4000321, not root; "), "{e}");
        assert!(
            e.contains("chown root it, or name the file with -c FILE"),
            "{e}"
        );
        let l = read(&f, Origin::Given).unwrap();
        assert!(l.warnings[0].to_string().contains("chown root it"));
    }
    // A FIFO is refused, not waited on.
    let fifo = dir.join("fifo.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let e = read(&fifo, Origin::Given).unwrap_err().to_string();
    assert!(
        e.ends_with("cannot read: it is a FIFO, not a regular file"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn summary_names_what_matters() {
    let c = ok("Spread = 4803@127.0.0.1\nGroup = wack1\nVIFs { e:10.0.0.1/24 { e:10.0.0.2/32 f:10.0.1.2/32n16 } }\nPrefer e:10.0.0.1/32\nNotify { arp-cache ping 10.0.0.0/24 throttle 64 }\nBalance { AcquisitionsPerRound = 5 Interval = 90s }\nRunDynamic m:f on up\n").config;
    let s = c.summary();
    for needle in [
        "configuration is valid",
        "4803@127.0.0.1 (tcp:127.0.0.1:4803)",
        "Group                wack1",
        "Mature               5m",
        "up to 1 moves every 90s (AcquisitionsPerRound = 5, capped at VIFs/2)",
        "e:10.0.0.1/24",
        "netmask 255.255.255.0",
        "broadcast 10.0.0.255",
        "+  f:10.0.1.2/32n16",
        "notify within /16",
        "STATE carries [10.0.0.1]",
        "arp-cache (the shared ARP cache), with ping",
        "10.0.0.0/24 (on each VIP's interface), at most 64/s",
        "on up      f() from",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
}

#[test]
fn prefer_and_notify_beyond_c_limits_warn() {
    let prefer: Vec<String> = (0..255)
        .map(|i| format!("10.9.{}.{}/32", i / 200, i % 200 + 1))
        .collect();
    let l = ok(&format!(
        "Group = g\nVIFs {{ e:10.9.0.1/32 }}\nPrefer {{ {} }}",
        prefer.join(" ")
    ));
    assert_eq!(l.config.preferred().len(), 255);
    assert!(warnings(&l).contains(&"t.conf: warning: 255 prefer addresses; C wackamole 2.1.4 nodes hold at most 254 and cannot share this cluster".to_string()));
    let notify = "10.0.0.1/32\n".repeat(1025);
    let l = ok_with(&format!("Notify {{ {notify} }}"));
    assert_eq!(l.config.notify().len(), 1025);
    assert_eq!(
        warnings(&l),
        ["t.conf: warning: 1025 Notify entries; C wackamole 2.1.4 nodes hold at most 1024 and cannot share this cluster"]
    );
}

#[test]
fn summary_without_optional_parts() {
    let s = ok(MIN).config.summary();
    assert!(s.contains("Prefer               (not set)"), "{s}");
    assert!(
        s.contains(
            "Notify               (no entries): each VIP is told to the whole segment (gratuitous ARP)"
        ),
        "{s}"
    );
    assert!(
        s.contains("Control              /var/run/wackamole.sock (default)"),
        "{s}"
    );
    assert!(!s.contains("RunDynamic"), "{s}");
}

#[test]
fn zero_intervals_of_repeating_timers_become_one_second() {
    let l = ok_with(
        "SpreadRetryInterval = 0s\nArp-Cache = 0m\nBalance { Interval = 0s }\nMature = 0s\n",
    );
    let c = &l.config;
    assert_eq!(c.spread_retry_interval(), Duration::from_secs(1));
    assert_eq!(c.arp_cache(), Duration::from_secs(1));
    assert_eq!(c.balance().interval, Duration::from_secs(1));
    // Mature fires once: 0s is a fine value.
    assert_eq!(c.mature(), Duration::ZERO);
    assert_eq!(
        warnings(&l),
        [
            "t.conf:3:23: warning: SpreadRetryInterval = 0s would run its timer without pause; 1s is used",
            "t.conf:4:13: warning: Arp-Cache = 0s would run its timer without pause; 1s is used",
            "t.conf:5:22: warning: Interval = 0s would run its timer without pause; 1s is used",
        ]
    );
    // With `all` the interval spaces the rounds after the first: 0s
    // would spin as well.
    let l = ok_with("Balance { AcquisitionsPerRound = all Interval = 0s }");
    assert_eq!(l.config.balance().interval, Duration::from_secs(1));
    assert_eq!(warnings(&l).len(), 1, "{:?}", warnings(&l));
}

#[test]
fn notify_blocks_that_reach_no_vip_warn() {
    // MIN's VIP is eth0:10.0.0.1/32, notifications within 10.0.0.0/24.
    for reaching in [
        "eth0:10.0.0.77/32",
        "10.0.0.0/16",
        "eth0:10.0.0.128/25",
        "0.0.0.0/1",
    ] {
        assert!(
            ok_with(&format!("Notify {{ {reaching} }}"))
                .warnings
                .is_empty(),
            "{reaching}"
        );
    }
    let l = ok_with("Notify { eth0:10.0.1.1/32 eth1:10.0.0.9/32 }");
    assert_eq!(
        warnings(&l),
        [
            "t.conf:3:10: warning: Notify eth0:10.0.1.1/32 lies outside the notification network (nNET) of every VIP on its interface, so it never fires",
            "t.conf:3:27: warning: Notify eth1:10.0.0.9/32 lies outside the notification network (nNET) of every VIP on its interface, so it never fires",
        ]
    );
}

#[test]
fn module_dir_may_change_between_hooks() {
    let l = parse_at(
        &format!(
            "{MIN}ModuleDir = a\nRunDynamic m:f on up\nModuleDir = /b\nRunDynamic m:f on down\n"
        ),
        "/etc/w.conf",
    )
    .unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let dirs: Vec<_> = l
        .config
        .hooks()
        .iter()
        .map(|h| match &h.target {
            HookTarget::Shared { module_dir, .. } => module_dir.clone(),
            t => panic!("{t:?}"),
        })
        .collect();
    assert_eq!(dirs, [Path::new("/etc/a"), Path::new("/b")]);
    assert_eq!(
        error_with("ModuleDir = ''\n"),
        "t.conf:3:13: ModuleDir must not be empty"
    );
    assert_eq!(
        error_with("RunDynamic a:b:c on up\n"),
        "t.conf:3:12: invalid RunDynamic 'a:b:c': 'b:c' is not a C function name"
    );
}

#[test]
fn an_empty_spread_means_4803() {
    let c = ok_with("Spread = ''\n").config;
    assert_eq!(c.spread(), &SpreadAddr::unix_port(4803));
    assert_eq!(c.spread_text(), "4803");
}

#[test]
fn warnings_come_in_file_order() {
    let l = ok(&format!("{THREE}Prefer e:10.7.7.7/32\nMature = 1h\n"));
    let w = warnings(&l);
    assert_eq!(w.len(), 2);
    assert!(w[0].starts_with("t.conf:3:8: "), "{w:?}");
    assert!(w[1].starts_with("t.conf:4:10: "), "{w:?}");
}

// ---- GatherTimeout --------------------------------------------------

#[test]
fn gather_timeout() {
    assert_eq!(
        ok(MIN).config.gather_timeout(),
        Some(Duration::from_secs(1))
    );
    let l = ok_with("GatherTimeout = 5s\n");
    assert_eq!(l.config.gather_timeout(), Some(Duration::from_secs(5)));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    // 0s: never close a round (C's behaviour).
    let c = ok_with("gathertimeout = 0s\n").config;
    assert_eq!(c.gather_timeout(), None);
    assert!(
        c.summary().contains("GatherTimeout        never"),
        "{}",
        c.summary()
    );
    assert!(ok(MIN).config.summary().contains("GatherTimeout        1s"));
}

// ---- ArpRefresh -----------------------------------------------------

#[test]
fn arp_refresh() {
    let c = ok(MIN).config;
    assert_eq!(c.arp_refresh(), None, "off by default");
    assert!(
        c.summary().contains("ArpRefresh           off"),
        "{}",
        c.summary()
    );
    let l = ok_with("ArpRefresh = 2s\n");
    assert_eq!(l.config.arp_refresh(), Some(Duration::from_secs(2)));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    assert!(
        l.config
            .summary()
            .contains("ArpRefresh           2s: each held VIP announced again once per 2s"),
        "{}",
        l.config.summary()
    );
    // 0s: off; case-insensitive; '=' glued to the value.
    assert_eq!(ok_with("arprefresh =0s\n").config.arp_refresh(), None);
    // Not one of C's directives: its 'h' is hours, with no warning about
    // how C reads it (C rejects the directive whole).
    let l = ok_with("ArpRefresh = 1h\n");
    assert_eq!(l.config.arp_refresh(), Some(Duration::from_secs(3600)));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let e = error_with("ArpRefresh = 2\n");
    assert!(e.contains("a unit is required"), "{e}");
    let e = error_with("ArpRefresh = often\n");
    assert!(
        e.contains("a time such as 30s, 5m or 1h for ArpRefresh"),
        "{e}"
    );
    // Misspelt, it is suggested.
    let e = error_with("ArpRefrsh = 2s\n");
    assert!(e.contains("ArpRefresh"), "{e}");
}

// ---- NodeAddress ----------------------------------------------------

#[test]
fn node_address() {
    assert_eq!(ok(MIN).config.node_address(), None);
    let l = ok_with("NodeAddress = 192.0.2.1\n");
    assert_eq!(l.config.node_address(), Some(a("192.0.2.1")));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    // Case-insensitive, anywhere, quoted or bare.
    let c = ok("nodeADDRESS = '192.0.2.2'\nGroup = g\nVIFs { e:1.1.1.1/32 }").config;
    assert_eq!(c.node_address(), Some(a("192.0.2.2")));
}

#[test]
fn node_address_glued_to_its_equals_is_split_without_a_c_warning() {
    // C rejects the directive whole, so "write 'NodeAddress = ...' for a
    // file both accept" would be wrong advice.
    for glued in [
        "NodeAddress=192.0.2.1\n",
        "NodeAddress= 192.0.2.1\n",
        "NodeAddress =192.0.2.1\n",
    ] {
        let l = ok_with(glued);
        assert_eq!(l.config.node_address(), Some(a("192.0.2.1")), "{glued}");
        assert!(l.warnings.is_empty(), "{glued}: {:?}", warnings(&l));
    }
}

#[test]
fn node_address_repeated_warns_and_the_last_wins() {
    let l = ok_with("NodeAddress = 192.0.2.1\nNodeAddress = 192.0.2.2\n");
    assert_eq!(l.config.node_address(), Some(a("192.0.2.2")));
    assert_eq!(
        warnings(&l),
        ["t.conf:4:1: warning: NodeAddress is set again (first at line 3); the last value wins"]
    );
}

#[test]
fn node_address_errors() {
    assert_eq!(
        error_with("NodeAddress = 127.0.1.1\n"),
        "t.conf:3:15: invalid NodeAddress '127.0.1.1': a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node"
    );
    assert_eq!(
        error_with("NodeAddress = 0.0.0.0\n"),
        "t.conf:3:15: invalid NodeAddress '0.0.0.0': the unspecified address 0.0.0.0 cannot identify a node"
    );
    assert_eq!(
        error_with("NodeAddress = 224.0.0.18\n"),
        "t.conf:3:15: invalid NodeAddress '224.0.0.18': a multicast address (224.0.0.0/4) cannot identify a node"
    );
    assert_eq!(
        error_with("NodeAddress = 255.255.255.255\n"),
        "t.conf:3:15: invalid NodeAddress '255.255.255.255': the broadcast address 255.255.255.255 cannot identify a node"
    );
    assert_eq!(
        error_with("NodeAddress = 192.0.2.256\n"),
        "t.conf:3:15: invalid NodeAddress '192.0.2.256': octet 256 is out of range 0-255"
    );
    assert_eq!(
        error_with("NodeAddress = eth0:192.0.2.1/32\n"),
        "t.conf:3:15: invalid NodeAddress 'eth0:192.0.2.1/32': a node address is a bare IPv4 address, without interface name or /PREFIX: write 192.0.2.1"
    );
    assert_eq!(
        error_with("NodeAddress = tb1.example.org\n"),
        "t.conf:3:15: invalid NodeAddress 'tb1.example.org': expected a dotted IPv4 address such as 192.0.2.1"
    );
    assert_eq!(
        error_with("NodeAddress=127.0.0.1\n"),
        "t.conf:3:13: invalid NodeAddress '127.0.0.1': a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node"
    );
    // Value errors do not stop the parse: all are reported.
    let e = errors(&format!(
        "{MIN}NodeAddress = 127.0.0.1\nVIFs {{ e:1.1.1.300/32 }}\n"
    ));
    assert_eq!(e.len(), 2, "{e:#?}");
    // Syntax.
    assert_eq!(
        error_with("NodeAddress 192.0.2.1\n"),
        "t.conf:3:13: expected '=' after NodeAddress, found '192.0.2.1'"
    );
    assert_eq!(
        error_with("NodeAddress =\nMature = 5s\n"),
        "t.conf:4:1: expected an IPv4 address (a.b.c.d) for NodeAddress, found 'Mature'"
    );
    assert_eq!(
        error_with("NodeAddress = {\n"),
        "t.conf:3:15: expected an IPv4 address (a.b.c.d) for NodeAddress, found '{'"
    );
    assert_eq!(
        error_with("NodeAddress =\n"),
        "t.conf:4:1: expected an IPv4 address (a.b.c.d) for NodeAddress, found end of file"
    );
    assert_eq!(
        error("NodeAdress = 192.0.2.1\n"),
        "t.conf:1:1: unknown directive 'NodeAdress' (did you mean 'NodeAddress'?)"
    );
    // A block left open before it is caught there.
    assert_eq!(
        error("Group = g\nVIFs { e:1.1.1.1/32\nNodeAddress = 192.0.2.1\n"),
        "t.conf:3:1: expected '}' to close VirtualInterfaces opened at line 2, found 'NodeAddress'"
    );
}

#[test]
fn summary_shows_node_address() {
    let s = ok(MIN).config.summary();
    assert!(
        s.contains("\n  NodeAddress          (not set: from the host name, else an interface)\n"),
        "{s}"
    );
    let c = ok_with("NodeAddress = 192.0.2.1\n").config;
    assert!(
        c.summary()
            .contains("\n  Group                g\n  NodeAddress          192.0.2.1\n"),
        "{}",
        c.summary()
    );
    let s = c.summary_with_identity("192.0.2.5 (from -a)");
    assert!(
        s.contains("\n  NodeAddress          192.0.2.5 (from -a)\n"),
        "{s}"
    );
    assert_eq!(s.matches("NodeAddress").count(), 1, "{s}");
}

// ---- IPv6 (beyond C 2.1.4) ------------------------------------------------

#[test]
fn ipv6_vifs_and_mixed_groups() {
    let l = ok("Group = g\nVIFs {\n eth0:[2001:db8::10]/64\n { eth0:192.0.2.20/32 eth0:[2001:db8::20]/64 }\n}\nPrefer eth0:[2001:db8::10]/128\n");
    let c = &l.config;
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let v6 = &c.vifs()[0];
    assert_eq!(v6.v4().count(), 0);
    assert_eq!(
        v6.v6().next().unwrap().to_string(),
        "eth0:[2001:db8::10]/64"
    );
    // Its wire identity is the hash of its first address, in 240/4.
    assert_eq!(
        v6.id().wire(),
        addr::wire_id_v6("2001:db8::10".parse().unwrap())
    );
    assert_eq!(v6.id().wire().octets()[0] & 0xf0, 0xf0);
    let mixed = &c.vifs()[1];
    assert_eq!(mixed.id().wire(), a("192.0.2.20"));
    assert_eq!(mixed.v6().count(), 1);
    // Preferring an IPv6 VIF sends its wire identity.
    assert_eq!(c.preferred(), &[v6.id().wire()]);
    let s = c.summary();
    assert!(s.contains("eth0:[2001:db8::10]/64"), "{s}");
    assert!(
        s.contains(&format!(
            "announced to ff02::1 (on the wire as {})",
            v6.id()
        )),
        "{s}"
    );
}

#[test]
fn ipv6_errors() {
    assert_eq!(
        error("Group = g\nVIFs { eth0:[2001:db8::10]/64 eth0:[2001:db8::10]/64 }"),
        "t.conf:2:31: address 2001:db8::10 is configured twice (first at 2:8); each address may appear once"
    );
    assert_eq!(
        error("Group = g\nVIFs { [2001:db8::10]/64 }"),
        "t.conf:2:8: '[2001:db8::10]/64' is not a valid address: a VIF address needs its interface (for example eth0:[2001:db8::10]/64)"
    );
    assert_eq!(
        error_with("Notify { eth0:[2001:db8::1]/64 }"),
        "t.conf:3:10: 'eth0:[2001:db8::1]/64' is not a valid address: Notify takes IPv4 blocks; IPv6 VIPs are announced to all nodes (ff02::1)"
    );
    assert_eq!(
        error_with("Prefer [2001:db8::1]/64"),
        "t.conf:3:8: '[2001:db8::1]/64' is not a valid address: an IPv6 Prefer entry names one VIF by its first address: use /128"
    );
    assert!(error_with("VIFs { eth0:[2001:db8::1]/200 }").contains("out of range 1-128"));
    let l = ok_with("Prefer [2001:db8::99]/128");
    assert!(warnings(&l)[0].contains("Prefer [2001:db8::99]/128 names no configured VIP"));
}

// ---- Local hardening: ControlGroup, SpreadUser, PerlPath, HookLimit ---

#[test]
fn local_hardening_defaults() {
    let c = ok(MIN).config;
    assert_eq!(c.control_group(), None);
    assert_eq!(c.spread_user(), None);
    assert_eq!(c.perl_path(), Path::new("/usr/bin/perl"));
    assert_eq!(c.hook_limit(), 8);
    assert!(
        c.summary().contains("root only, socket mode 0600"),
        "{}",
        c.summary()
    );
}

#[test]
fn local_hardening_directives() {
    let l = ok_with(
        "ControlGroup = wheel\nSpreadUser = spread\nPerlPath = /opt/perl/bin/perl\nHookLimit = 2\n",
    );
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let c = &l.config;
    assert_eq!(c.control_group(), Some("wheel"));
    assert_eq!(c.spread_user(), Some("spread"));
    assert_eq!(c.perl_path(), Path::new("/opt/perl/bin/perl"));
    assert_eq!(c.hook_limit(), 2);
    let s = c.summary();
    assert!(
        s.contains("ControlGroup         wheel: root and its members"),
        "{s}"
    );
    assert!(s.contains("SpreadUser           spread"), "{s}");
    // Numbers are names too (a uid or gid).
    let c = ok_with("ControlGroup = 1001\nSpreadUser = 107\n").config;
    assert_eq!(c.control_group(), Some("1001"));
    assert_eq!(c.spread_user(), Some("107"));
}

#[test]
fn local_hardening_errors() {
    let e = error_with("PerlPath = perl\n");
    assert!(
        e.contains("PerlPath must be an absolute path, not 'perl'"),
        "{e}"
    );
    let e = error_with("HookLimit = 0\n");
    assert!(e.contains("HookLimit must be at least 1"), "{e}");
    let e = error_with("HookLimit = many\n");
    assert!(
        e.contains("a number of hook processes for HookLimit"),
        "{e}"
    );
    let e = error_with("SpreadUser =\nGroup = g2\n");
    assert!(
        e.contains("expected a user name (or number) for SpreadUser"),
        "{e}"
    );
    let e = error_with("ControlGroup = \"\"\n");
    assert!(e.contains("ControlGroup must not be empty"), "{e}");
}

// ---- Quorum (not in C 2.1.4) -------------------------------------------

#[test]
fn quorum_is_off_by_default_and_at_0_or_1() {
    assert_eq!(ok(MIN).config.quorum(), None);
    assert!(!ok(MIN).config.summary().contains("Quorum"));
    for n in ["0", "1"] {
        let l = ok_with(&format!("Quorum = {n}\n"));
        assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
        assert_eq!(l.config.quorum(), None, "Quorum = {n}");
    }
}

#[test]
fn quorum_takes_a_number_of_members() {
    let c = ok_with("Quorum = 3\n").config;
    assert_eq!(c.quorum(), Some(3));
    let s = c.summary();
    assert!(
        s.contains("Quorum               3: in a view of fewer members this node holds no VIP"),
        "{s}"
    );
    // Written as the other directives C does not know: no blanks needed,
    // and no warning that C would mind them (C rejects the whole line).
    let l = ok_with("Quorum=2\n");
    assert_eq!(l.config.quorum(), Some(2));
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let l = ok_with("Quorum = 2\nQuorum = 4\n");
    assert_eq!(l.config.quorum(), Some(4));
    assert!(warnings(&l)[0].contains("Quorum"), "{:?}", warnings(&l));
    let e = error_with("Quorum = most\n");
    assert!(e.contains("a number of members for Quorum"), "{e}");
    let e = error_with("Quorum = 2s\n");
    assert!(e.contains("a number of members for Quorum"), "{e}");
    let e = error_with("Quorum = 99999999999\n");
    assert!(e.contains("99999999999"), "{e}");
    let e = error_with("Quorom = 2\n");
    assert!(e.contains("Quorum"), "a suggestion: {e}");
}

// ---- A STATE must fit in one Spread message ---------------------------

fn many_vifs(n: usize, extra: &str) -> String {
    let mut s = format!("Group = g\n{extra}VIFs {{\n");
    for i in 0..n {
        s.push_str(&format!(
            "e:10.{}.{}.{}/32\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    s.push_str("}\n");
    s
}

#[test]
fn a_state_that_cannot_be_sent_is_a_config_error() {
    // 32 bytes of header and 8 per VIF in 143,920: 17,986 fit.
    ok(&many_vifs(17_986, ""));
    let e = errors(&many_vifs(17_987, ""));
    let text = e
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("17987 VIFs: a node holding them all would send a STATE of 143928 bytes")
            && text.contains("at most 17986 VIFs fit"),
        "{text}"
    );
    // A key adds its 32-byte tag to every message.
    let keyed = many_vifs(17_986, "SharedSecretFile = /k\n");
    let text: Vec<String> = errors(&keyed).iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("at most 17982 VIFs fit")),
        "{text:?}"
    );
}

mod checks;

// ---- standby placeholders (0.0.0.0 VIFs) ----------------------------

#[test]
fn several_placeholders_are_accepted_and_shown_as_such() {
    let c = ok("Group = g\nVIFs {\n eth0:10.0.0.1/32\n eth0:0.0.0.0/32\n eth0:10.0.0.2/32\n eth0:0.0.0.0/32\n}\n").config;
    let kinds: Vec<bool> = c.vifs().iter().map(|v| v.is_placeholder()).collect();
    assert_eq!(kinds, [false, true, false, true]);
    // One wire id for all of them; the first answers to it, as in C.
    let (i, _) = c.vif_at(VifId::new(Ipv4Addr::UNSPECIFIED)).unwrap();
    assert_eq!(i, 1);
    // Never an address of this node's interfaces, nor its identity's.
    assert_eq!(c.vip_addrs(), [a("10.0.0.1"), a("10.0.0.2")]);
    let s = c.summary();
    assert_eq!(s.matches("standby placeholder").count(), 2, "{s}");
    assert!(s.contains("    2  eth0:0.0.0.0/32"), "{s}");
}

#[test]
fn a_placeholder_is_a_vif_of_its_own() {
    assert_eq!(
        error("Group = g\nVIFs { { eth0:10.0.0.1/32 eth0:0.0.0.0/32 } }\n"),
        "t.conf:2:8: 'eth0:0.0.0.0/32' is not a valid address: 0.0.0.0 (a standby placeholder) must be a VIF of its own, not in a group"
    );
    // Other addresses still appear once.
    assert!(
        error("Group = g\nVIFs { eth0:0.0.0.0/32 eth0:10.0.0.1/32 eth0:10.0.0.1/32 }\n")
            .contains("address 10.0.0.1 is configured twice")
    );
}
