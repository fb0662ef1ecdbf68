//! Fuzz-style tests of the config parser: random bytes, random token
//! soups and mutations of real configs must never panic or hang, and
//! configs generated from the grammar must parse to what was generated.
//! Seeded, so a failure is reproducible: the message names the case.

mod common;

use common::rng::Rng;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use wackamole::config::{self, Config};

const SAMPLE: &str = include_str!("../wackamole.conf.sample");
const THREE_HOSTS: &str = include_str!("data/three-hosts.conf");
const C_SAMPLE: &str = include_str!("data/c-2.1.4-sample.conf");

const VOCAB: &[&str] = &[
    "{",
    "}",
    "=",
    "\"",
    "'",
    "#",
    "\n",
    " ",
    "\t",
    "\r",
    "Spread",
    "Group",
    "Control",
    "Mature",
    "Balance",
    "AcquisitionsPerRound",
    "Interval",
    "all",
    "none",
    "Prefer",
    "Notify",
    "arp-cache",
    "Arp-Cache",
    "throttle",
    "ping",
    "VirtualInterfaces",
    "VIPs",
    "VIFs",
    "RunDynamic",
    "on up",
    "post down",
    "ModuleDir",
    "PerlUse",
    "PerlUseLib",
    "NodeAddress",
    "127.0.1.1",
    "LogFacility",
    "SpreadRetryInterval",
    "ArpRefresh",
    "eth0:10.0.0.1/32",
    "10.0.0.0/24n16",
    "eth0:1.2.3.4/0",
    "e:999.1.1.1/32",
    "4803@127.0.0.1",
    "5s",
    "9m",
    "2h",
    "0",
    "99999999999999999999",
    "=x",
    "Group=g",
    "m:f",
    "P::f",
    "é",
    "\u{FFFD}",
    "/",
    ":",
];

/// Parses on a watchdog: a hang fails the test instead of stalling it.
fn run_cases(name: &str, cases: usize, mut make: impl FnMut(&mut Rng) -> String + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let name_owned = name.to_string();
    std::thread::spawn(move || {
        let mut rng = Rng::new(0x5eed ^ name_owned.len() as u64);
        for i in 0..cases {
            let text = make(&mut rng);
            check_one(&text)
                .unwrap_or_else(|m| panic!("{name_owned} case {i}: {m}\n--- input:\n{text:?}"));
        }
        tx.send(()).unwrap();
    });
    // Generous: the whole batch takes well under a second when healthy.
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: the parser did not finish (a loop?)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{name}: a case panicked (see above)"),
    }
}

/// One input: parse twice (same answer), and check what a parse
/// promises.
fn check_one(text: &str) -> Result<(), String> {
    let file = Path::new("fuzz.conf");
    let first = config::parse(text, file);
    let second = config::parse(text, file);
    match (&first, &second) {
        (Ok(a), Ok(b)) => {
            if a.config != b.config || a.warnings != b.warnings {
                return Err("two parses differ".into());
            }
            check_valid(&a.config)?;
            let _ = a.config.summary();
        }
        (Err(a), Err(b)) => {
            if a.lines() != b.lines() {
                return Err("two parses give different errors".into());
            }
            if a.errors.is_empty() {
                return Err("failed with no error".into());
            }
            for line in a.lines() {
                if !line.starts_with("fuzz.conf") {
                    return Err(format!("message without the file name: {line}"));
                }
            }
        }
        _ => return Err("two parses disagree on validity".into()),
    }
    Ok(())
}

/// What every accepted config guarantees.
fn check_valid(c: &Config) -> Result<(), String> {
    if c.vifs().is_empty() {
        return Err("accepted with no VIF".into());
    }
    if c.group().is_empty() || c.group().len() > 31 {
        return Err(format!("accepted group {:?}", c.group()));
    }
    let mut seen = HashSet::new();
    for v in c.vifs() {
        if v.addrs.len() > 30 {
            return Err("accepted more than 29 extras".into());
        }
        for a in v.v4() {
            if !seen.insert(a.addr) {
                return Err(format!("accepted {} twice", a.addr));
            }
            if a.ifname.is_empty() || a.ifname.len() > 15 {
                return Err(format!("accepted interface {:?}", a.ifname));
            }
            if !(1..=32).contains(&a.prefix) || !(1..=32).contains(&a.net_prefix) {
                return Err(format!("accepted prefix {}", a));
            }
        }
    }
    if c.control().as_os_str().len() > 107 || c.control().as_os_str().is_empty() {
        return Err("accepted a bad control path".into());
    }
    Ok(())
}

#[test]
fn random_bytes() {
    run_cases("random bytes", 10_000, |r| {
        let n = r.below(400);
        let bytes: Vec<u8> = (0..n).map(|_| r.next() as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    });
}

#[test]
fn random_printable_text() {
    let alphabet: Vec<char> = " \t\n{}=#\"':/.n0123456789abcdefsmhAEIOU-@"
        .chars()
        .collect();
    run_cases("printable", 10_000, move |r| {
        let n = r.below(300);
        (0..n).map(|_| r.pick(&alphabet)).collect()
    });
}

#[test]
fn token_soup() {
    run_cases("token soup", 30_000, |r| {
        let n = r.below(60);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(r.pick(VOCAB));
            if r.chance(70) {
                s.push(' ');
            }
        }
        s
    });
}

#[test]
fn mutated_real_configs() {
    run_cases("mutations", 30_000, |r| {
        let base = r.pick(&[SAMPLE, THREE_HOSTS, C_SAMPLE]);
        let mut b: Vec<u8> = base.as_bytes().to_vec();
        for _ in 0..1 + r.below(4) {
            if b.is_empty() {
                break;
            }
            let at = r.below(b.len());
            match r.below(6) {
                0 => b[at] = r.next() as u8,
                1 => {
                    let end = (at + r.below(40)).min(b.len());
                    b.drain(at..end);
                }
                2 => {
                    let end = (at + r.below(40)).min(b.len());
                    let chunk = b[at..end].to_vec();
                    b.splice(at..at, chunk);
                }
                3 => {
                    let tok = r.pick(VOCAB).as_bytes().to_vec();
                    b.splice(at..at, tok);
                }
                4 => b.truncate(at),
                _ => b[at] = r.pick(b"{}=#\"'\n :/."),
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    });
}

/// A random blank run: C's grammar allows any blanks between tokens.
fn blank(r: &mut Rng) -> String {
    match r.below(6) {
        0 => "\n".into(),
        1 => "\t".into(),
        2 => "  # a comment { } =\n ".into(),
        3 => " \r\n  ".into(),
        _ => " ".into(),
    }
}

fn random_case(r: &mut Rng, s: &str) -> String {
    s.chars()
        .map(|c| {
            if r.chance(50) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[test]
fn generated_valid_configs_parse_to_what_was_generated() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = Rng::new(42);
        for case in 0..5_000 {
            let mut text = String::new();
            // VIFs per VirtualInterfaces block; blocks may be shuffled
            // among the other directives, VIFs within a block may not.
            let mut blocks_want: Vec<Vec<Vec<Ipv4Addr>>> = Vec::new();
            let mut next_addr = 0u32;
            let group = format!("g{}", r.below(1000));
            let mut parts: Vec<(String, Option<usize>)> = vec![(
                format!(
                    "{}{}={}{}",
                    random_case(&mut r, "Group"),
                    blank(&mut r),
                    blank(&mut r),
                    group
                ),
                None,
            )];
            let blocks = 1 + r.below(3);
            for b in 0..blocks {
                let mut body = String::new();
                let mut want = Vec::new();
                for _ in 0..1 + r.below(6) {
                    let n = if r.chance(30) { 1 + r.below(5) } else { 1 };
                    let mut vif = Vec::new();
                    let mut words = Vec::new();
                    for _ in 0..n {
                        next_addr += 1;
                        let a = Ipv4Addr::from(0x0A00_0000 + next_addr);
                        let suffix = if r.chance(30) {
                            format!("n{}", 1 + r.below(32))
                        } else {
                            String::new()
                        };
                        words.push(format!("eth{}:{a}/{}{suffix}", r.below(3), 1 + r.below(32)));
                        vif.push(a);
                    }
                    if n == 1 && r.chance(50) {
                        body.push_str(&words[0]);
                    } else {
                        body.push('{');
                        body.push_str(&blank(&mut r));
                        body.push_str(&words.join(&blank(&mut r)));
                        body.push_str(&blank(&mut r));
                        body.push('}');
                    }
                    body.push_str(&blank(&mut r));
                    want.push(vif);
                }
                let kw = r.pick(&["VirtualInterfaces", "VIPs", "VIFs"]);
                parts.push((
                    format!(
                        "{}{}{{{}{}}}",
                        random_case(&mut r, kw),
                        blank(&mut r),
                        blank(&mut r),
                        body
                    ),
                    Some(b),
                ));
                blocks_want.push(want);
            }
            let first = blocks_want[0][0][0];
            if r.chance(50) {
                parts.push((format!("Mature = {}s", r.below(1000)), None));
            }
            if r.chance(50) {
                parts.push((
                    "Balance { AcquisitionsPerRound = all Interval = 3m }".into(),
                    None,
                ));
            }
            if r.chance(50) {
                parts.push((
                    "Notify { arp-cache 10.0.0.0/24 throttle 16 ping }".into(),
                    None,
                ));
            }
            if r.chance(30) {
                parts.push((format!("Prefer eth0:{first}/32"), None));
            }
            // Directive order is free.
            for i in (1..parts.len()).rev() {
                let j = r.below(i + 1);
                parts.swap(i, j);
            }
            let mut want: Vec<Vec<Ipv4Addr>> = Vec::new();
            for (p, block) in &parts {
                text.push_str(p);
                text.push_str(&blank(&mut r));
                text.push('\n');
                if let Some(b) = block {
                    want.extend(blocks_want[*b].iter().cloned());
                }
            }
            let loaded = match config::parse(&text, Path::new("gen.conf")) {
                Ok(l) => l,
                Err(e) => panic!(
                    "case {case}: rejected:\n{}\n--- input:\n{text}",
                    e.lines().join("\n")
                ),
            };
            let got: Vec<Vec<Ipv4Addr>> = loaded
                .config
                .vifs()
                .iter()
                .map(|v| v.v4().map(|a| a.addr).collect())
                .collect();
            assert_eq!(got, want, "case {case}:\n{text}");
            assert_eq!(loaded.config.group(), group, "case {case}");
        }
        tx.send(()).unwrap();
    });
    match rx.recv_timeout(Duration::from_secs(300)) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the parser did not finish (a loop?)"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("a case failed (see above)"),
    }
}
