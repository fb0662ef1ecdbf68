//! Health checks (`Check` blocks). First the runner with real programs
//! in a scratch directory (no root needed): what passes and fails, a
//! timeout, a program that cannot run, the environment, a reload. Then
//! end to end in network namespaces, on the harness of `tests/e2e.rs`:
//! a failing check drains its host and a passing one brings it back,
//! with `wackatrl` and a `check down` hook (as root; SKIPPED otherwise).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::scratch::{read, write_file, Scratch};
use wackamole::config;
use wackamole::health::{CheckResult, Report, Runner, State, Verdict};
use wackamole::hooks::{Outcome, HOOK_PATH};

const WITHIN: Duration = Duration::from_secs(10);

/// The checks of a config with `extra`.
fn checks(extra: &str) -> Vec<config::Check> {
    let text = format!("Group = g\nVIFs {{ eth0:192.0.2.10/32 }}\n{extra}");
    match config::parse(&text, Path::new("t.conf")) {
        Ok(l) => l.config.checks().to_vec(),
        Err(e) => panic!("{}", e.lines().join("\n")),
    }
}

/// Polls `r` as the daemon does (at its deadlines) until `done` says
/// so of everything reported; every report, in order.
fn poll_until(r: &mut Runner, mut done: impl FnMut(&Runner, &[Report]) -> bool) -> Vec<Report> {
    let start = Instant::now();
    let mut all = Vec::new();
    loop {
        all.extend(r.poll(Instant::now()));
        if done(r, &all) {
            return all;
        }
        assert!(
            start.elapsed() < WITHIN,
            "not done within {WITHIN:?}: {all:#?}"
        );
        let next = r.next_deadline().expect("a deadline while checks run");
        let now = Instant::now();
        if next > now {
            std::thread::sleep((next - now).min(Duration::from_millis(200)));
        }
    }
}

fn script(d: &Scratch, name: &str, body: &str, mode: u32) -> PathBuf {
    let p = d.join(name);
    write_file(&p, &format!("#!/bin/sh\n{body}\n"), mode);
    p
}

#[test]
fn the_first_run_decides_and_exit_0_passes() {
    let d = Scratch::new("checks-first");
    let good = script(&d, "good", "exit 0", 0o755);
    let bad = script(&d, "bad", "echo 'connection refused' >&2; exit 3", 0o755);
    let mut r = Runner::new(
        &checks(&format!(
            "Check {{ Run = {} }}\nCheck {{ Run = {} }}",
            good.display(),
            bad.display()
        )),
        Instant::now(),
    );
    assert_eq!(r.verdict(), Verdict::Pending, "nothing has run yet");
    let reports = poll_until(&mut r, |_, all| all.len() == 2);
    let by = |p: &Path| reports.iter().find(|x| x.run == p).unwrap();
    assert!(by(&good).result.passed());
    assert_eq!(
        by(&good).recorded.transition.map(|t| (t.from, t.to)),
        Some((State::Starting, State::Up))
    );
    assert_eq!(by(&bad).result, CheckResult::Ran(Outcome::Exited(3)));
    assert_eq!(by(&bad).stderr, "connection refused");
    assert_eq!(
        by(&bad).recorded.transition.map(|t| t.to),
        Some(State::Down)
    );
    assert_eq!(r.verdict(), Verdict::Failing);
    let status = r.status(Instant::now());
    assert_eq!(status[1].state, State::Down);
    assert_eq!(status[1].failures, 1);
    let last = status[1].last.as_ref().unwrap();
    assert_eq!(
        (last.result.as_str(), last.exit_status),
        ("exit status 3", Some(3))
    );
}

#[test]
fn a_run_past_its_timeout_is_killed_with_what_it_started_and_fails() {
    let d = Scratch::new("checks-timeout");
    let pids = d.join("pids");
    let slow = script(
        &d,
        "slow",
        &format!("sleep 30 & echo $! > {}\nwait", pids.display()),
        0o755,
    );
    let mut r = Runner::new(
        &checks(&format!(
            "Check {{ Run = {} Timeout = 1s }}",
            slow.display()
        )),
        Instant::now(),
    );
    let start = Instant::now();
    let reports = poll_until(&mut r, |_, all| !all.is_empty());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        reports[0].result,
        CheckResult::Ran(Outcome::TimedOut(Duration::from_secs(1)))
    );
    assert_eq!(reports[0].result.to_string(), "no answer within 1s: killed");
    assert_eq!(r.verdict(), Verdict::Failing);
    // The sleep it started went with it.
    let pid = read(&pids).trim().to_string();
    let deadline = Instant::now() + WITHIN;
    while Path::new("/proc").join(&pid).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            break; // a zombie of init's now: dead
        }
        assert!(Instant::now() < deadline, "sleep {pid} survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_program_that_cannot_run_fails_and_says_why_once() {
    let d = Scratch::new("checks-notrun");
    let open = script(&d, "open", "exit 0", 0o777);
    let plain = script(&d, "plain", "exit 0", 0o644);
    let missing = d.join("missing");
    let mut r = Runner::new(
        &checks(&format!(
            "Check {{ Run = {} Interval = 1s Fall = 2 }}\nCheck {{ Run = {} Interval = 1s }}\nCheck {{ Run = {} Interval = 1s }}",
            missing.display(),
            open.display(),
            plain.display()
        )),
        Instant::now(),
    );
    // Two rounds: each check fails twice, its reason said the first time.
    let reports = poll_until(&mut r, |_, all| all.len() >= 6);
    let of = |p: &Path| -> Vec<&Report> { reports.iter().filter(|x| x.run == p).collect() };
    for p in [&missing, &open, &plain] {
        let news: Vec<bool> = of(p).iter().map(|x| x.recorded.news).collect();
        assert_eq!(news[..2], [true, false], "{}", p.display());
        assert!(of(p).iter().all(|x| !x.result.passed()));
    }
    assert_eq!(
        of(&missing)[0].result.to_string(),
        format!(
            "not run: {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert_eq!(
        of(&open)[0].result.to_string(),
        format!(
            "not run: refusing {0}: it is writable by everyone (mode 777); chmod go-w it",
            open.display()
        )
    );
    let text = of(&plain)[0].result.to_string();
    assert!(
        text.starts_with(&format!("not run: cannot run {}: ", plain.display())),
        "{text}"
    );
    assert_eq!(r.verdict(), Verdict::Failing);
}

#[test]
fn a_check_sees_only_path() {
    let d = Scratch::new("checks-env");
    let out = d.join("env.out");
    let env = script(
        &d,
        "env",
        &format!(
            "env > {}; echo \"args: $#\" >> {}",
            out.display(),
            out.display()
        ),
        0o755,
    );
    std::env::set_var("CHECKS_TEST_SECRET", "daemon's");
    let mut r = Runner::new(
        &checks(&format!("Check {{ Run = {} }}", env.display())),
        Instant::now(),
    );
    poll_until(&mut r, |_, all| !all.is_empty());
    let text = read(&out);
    assert!(
        text.lines().any(|l| l == format!("PATH={HOOK_PATH}")),
        "{text}"
    );
    assert!(text.contains("args: 0"), "{text}");
    assert!(!text.contains("CHECKS_TEST_SECRET"), "{text}");
    assert!(!text.contains("WACKAMOLE_"), "{text}");
}

/// Interval 1s, Fall 2, Rise 1: a file decides. Down two runs after
/// the file goes, up at the first run after it is back.
#[test]
fn fall_and_rise_follow_a_file() {
    let d = Scratch::new("checks-file");
    let ok = d.join("ok");
    std::fs::write(&ok, "").unwrap();
    let check = script(&d, "check", &format!("test -e {}", ok.display()), 0o755);
    let mut r = Runner::new(
        &checks(&format!(
            "Check {{ Run = {} Interval = 1s Fall = 2 Rise = 1 }}",
            check.display()
        )),
        Instant::now(),
    );
    poll_until(&mut r, |r, _| r.verdict() == Verdict::Passing);
    std::fs::remove_file(&ok).unwrap();
    let gone = Instant::now();
    let reports = poll_until(&mut r, |r, _| r.verdict() == Verdict::Failing);
    let took = gone.elapsed();
    assert!(took < Duration::from_millis(3500), "{took:?}");
    let fails: Vec<u32> = reports.iter().map(|x| x.failures).collect();
    assert_eq!(fails, [1, 2], "one failure is not enough");
    std::fs::write(&ok, "").unwrap();
    let back = Instant::now();
    poll_until(&mut r, |r, _| r.verdict() == Verdict::Passing);
    assert!(back.elapsed() < Duration::from_millis(2500));
}

/// A reload: the same check runs on, a changed one keeps its state
/// with counts at zero, a new one starts as the node stands (up here),
/// and a removed one's run is killed.
#[test]
fn a_reload_keeps_what_is_the_same() {
    let d = Scratch::new("checks-reload");
    let a = script(&d, "a", "exit 0", 0o755);
    let b = script(&d, "b", "exit 0", 0o755);
    let slow = script(&d, "slow", "exec sleep 30", 0o755);
    let c = script(&d, "c", "exit 1", 0o755);
    let conf = |extra: &str| {
        checks(&format!(
            "Check {{ Run = {} Interval = 5s }}\n{extra}",
            a.display()
        ))
    };
    let mut r = Runner::new(
        &conf(&format!(
            "Check {{ Run = {} Interval = 5s }}\nCheck {{ Run = {} Interval = 30s Timeout = 30s }}",
            b.display(),
            slow.display()
        )),
        Instant::now(),
    );
    poll_until(&mut r, |_, all| all.len() == 2);
    // The slow one runs on: Pending.
    assert_eq!(r.verdict(), Verdict::Pending);
    r.reconfigure(
        &conf(&format!("Check {{ Run = {} Interval = 6s }}", b.display())),
        Instant::now(),
    );
    let s = r.status(Instant::now());
    assert_eq!(s.len(), 2);
    // a: untouched (its pass counted); b: changed, up with no count.
    assert_eq!((s[0].state, s[0].passes), (State::Up, 1));
    assert_eq!(
        (s[1].state, s[1].passes, s[1].last.is_none()),
        (State::Up, 0, true)
    );
    assert_eq!(r.verdict(), Verdict::Passing);
    // The slow one's child is gone (killed), and b is run again now.
    let reports = poll_until(&mut r, |_, all| !all.is_empty());
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0].run, b);
    // A new check while every check passes starts up: failing it once
    // leaves it up (Fall 3).
    r.reconfigure(
        &conf(&format!(
            "Check {{ Run = {} Interval = 6s }}\nCheck {{ Run = {} }}",
            b.display(),
            c.display()
        )),
        Instant::now(),
    );
    let reports = poll_until(&mut r, |_, all| !all.is_empty());
    assert_eq!(reports[0].run, c);
    assert!(reports[0].recorded.transition.is_none());
    assert_eq!(r.verdict(), Verdict::Passing);
    r.stop(Instant::now());
}

// ---- end to end, in network namespaces (root) --------------------------

use common::cluster::Cluster;
use common::netns::can_run;

const SETTLE: Duration = Duration::from_secs(20);

/// Waits until `path` exists and holds `needle`; its text.
fn wait_text(c: &Cluster, path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + SETTLE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {needle:?} (it holds {text:?})\n{}",
            path.display(),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn out_text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Three hosts on spread-sim, six VIPs, `Balance all`; each host checks
/// a file of its own (Interval 1s, Fall 2, Rise 1) and pages a hook on
/// `check down` and `check up`. Host 1's file goes: within Interval ×
/// Fall and a few seconds it holds nothing and the other two hold
/// every VIP once; it comes back: host 1 rejoins, 2/2/2. Again, with
/// the operator: `wackatrl -s` while the check fails is refused,
/// `wackatrl -f` keeps the node out when the check passes again, and
/// `wackatrl -s` brings it back.
#[test]
fn a_failing_check_drains_its_host_and_a_passing_one_brings_it_back() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("chk", 3, 6, "");
    let vips = c.vips.clone();
    let dir = c.dir.0.clone();
    let hook_log = dir.join("hook.log");
    let hook = dir.join("page");
    write_file(
        &hook,
        &format!(
            "#!/bin/sh\necho \"$WACKAMOLE_EVENT $WACKAMOLE_CHECK\" >> {}\n",
            hook_log.display()
        ),
        0o755,
    );
    let ok: Vec<PathBuf> = (1..=3).map(|i| dir.join(format!("ok-h{i}"))).collect();
    let check: Vec<PathBuf> = (1..=3).map(|i| dir.join(format!("check-h{i}"))).collect();
    for i in 0..3 {
        std::fs::write(&ok[i], "").unwrap();
        write_file(
            &check[i],
            &format!("#!/bin/sh\ntest -e {}\n", ok[i].display()),
            0o755,
        );
        let extra = format!(
            "Check {{\n  Run = {}\n  Interval = 1s\n  Fall = 2\n  Rise = 1\n}}\n\
             RunScript {1} check down\nRunScript {1} check up\n",
            check[i].display(),
            hook.display()
        );
        c.write_conf(i, &vips, &extra);
    }
    c.start_all();
    c.wait_for("2/2/2 at start", SETTLE, |c| c.counts() == [2, 2, 2]);
    let (stdout, _) = out_text(&c.wackatrl(0, &["-l"]));
    assert!(
        stdout.contains(&format!("Check {}: up, passed ", check[0].display())),
        "{stdout}"
    );

    // The service breaks: h1 drains within Interval × Fall + 4 s.
    std::fs::remove_file(&ok[0]).unwrap();
    let broke = Instant::now();
    c.wait_for("h1 empty", Duration::from_secs(2 + 4), |c| {
        c.held(0).is_empty()
    });
    eprintln!("h1 drained {:?} after its check broke", broke.elapsed());
    c.wait_settled(&vips, &[1, 2], SETTLE);
    assert_eq!(c.counts(), [0, 3, 3], "{}", c.logs());
    c.wait_log(
        0,
        &format!(
            "check {} failed 2 times in a row (exit status 1): leaving the group, releasing every VIP",
            check[0].display()
        ),
        SETTLE,
    );
    wait_text(&c, &hook_log, &format!("check down {}", check[0].display()));
    let (stdout, _) = out_text(&c.wackatrl(0, &["-l"]));
    assert!(
        stdout.contains(&format!("Check {}: down, failed ", check[0].display())),
        "{stdout}"
    );

    // It is repaired: h1 rejoins by itself and the VIPs rebalance.
    std::fs::write(&ok[0], "").unwrap();
    c.wait_for("2/2/2 after the repair", SETTLE, |c| {
        c.counts() == [2, 2, 2]
    });
    c.wait_log(
        0,
        &format!(
            "check {} passed 1 time in a row: rejoining the group",
            check[0].display()
        ),
        SETTLE,
    );
    wait_text(&c, &hook_log, &format!("check up {}", check[0].display()));

    // Broken again: -s is refused and changes nothing.
    std::fs::remove_file(&ok[0]).unwrap();
    c.wait_for("h1 empty again", SETTLE, |c| c.held(0).is_empty());
    c.wait_settled(&vips, &[1, 2], SETTLE);
    let out = c.wackatrl(0, &["-s"]);
    let (_, stderr) = out_text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "wackatrl: the node stays out of the group: check {} is down (failed ",
            check[0].display()
        )) && stderr.contains("it rejoins by itself once every check passes"),
        "{stderr}"
    );
    c.wait_log(0, "wackatrl -s refused: the node stays out", SETTLE);
    // -f while broken; repaired, it stays out: the operator's -f wins.
    let out = c.wackatrl(0, &["-f"]);
    assert!(out.status.success(), "{}", out_text(&out).1);
    std::fs::write(&ok[0], "").unwrap();
    c.wait_log(
        0,
        "passed 1 time in a row: staying out of the group: wackatrl -f is in force until wackatrl -s",
        SETTLE,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(c.counts(), [0, 3, 3], "{}", c.logs());
    // -s now: back, 2/2/2.
    let out = c.wackatrl(0, &["-s"]);
    assert!(out.status.success(), "{}", out_text(&out).1);
    c.wait_for("2/2/2 after -s", SETTLE, |c| c.counts() == [2, 2, 2]);
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
}

/// A host whose check fails at start never joins, and so never holds a
/// VIP; a reload that replaces the check with one that passes brings it
/// in once the new check has passed `Rise` times (it starts down: the
/// node was out).
#[test]
fn a_host_failing_at_start_stays_out_until_a_reload_fixes_its_check() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("chkr", 1, 2, "");
    let vips = c.vips.clone();
    let dir = c.dir.0.clone();
    let bad = dir.join("check-bad");
    let good = dir.join("check-good");
    write_file(&bad, "#!/bin/sh\nexit 1\n", 0o755);
    write_file(&good, "#!/bin/sh\nexit 0\n", 0o755);
    let conf = |run: &Path| format!("Check {{ Run = {} Interval = 1s }}\n", run.display());
    c.write_conf(0, &vips, &conf(&bad));
    c.start(0);
    c.wait_log(
        0,
        &format!(
            "check {} failed at its first run (exit status 1): not joining the group until it passes 2 times in a row",
            bad.display()
        ),
        SETTLE,
    );
    // Past Mature (1s), alone: it would hold both VIPs if it had joined.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(c.held(0).is_empty(), "{}", c.logs());
    let (stdout, _) = out_text(&c.wackatrl(0, &["-j"]));
    let json: String = stdout.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(json.contains("\"connected\":false"), "{json}");
    assert!(
        json.contains(&format!("\"run\":\"{}\",\"state\":\"down\"", bad.display())),
        "{json}"
    );

    c.write_conf(0, &vips, &conf(&good));
    let fixed = Instant::now();
    let out = c.wackatrl(0, &["-r"]);
    let (stdout, stderr) = out_text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!(
            "checks added {}, removed {}",
            good.display(),
            bad.display()
        )),
        "{stdout}"
    );
    c.wait_settled(&vips, &[0], SETTLE);
    assert!(
        fixed.elapsed() >= Duration::from_millis(900),
        "joined before its new check passed twice"
    );
    c.wait_log(
        0,
        &format!(
            "check {} passed 2 times in a row: rejoining the group",
            good.display()
        ),
        SETTLE,
    );
}
