//! `Check` blocks and the `check up` / `check down` hook events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{error_with, ok, ok_with, warnings, MIN};
use crate::config::{defaults, HookEvent, HookTarget, Setting};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_full_block_and_the_defaults() {
    let c = ok_with(
        "Check {\n  Run = /usr/local/sbin/check-web\n  Interval = 5s\n  Timeout = 1s\n  Fall = 4\n  Rise = 1\n}\n\
         check { run = '/usr/local/sbin/check db' }\n",
    )
    .config;
    let k = c.checks();
    assert_eq!(k.len(), 2);
    assert_eq!(k[0].run, Path::new("/usr/local/sbin/check-web"));
    assert_eq!(
        (k[0].interval, k[0].timeout, k[0].fall, k[0].rise),
        (secs(5), secs(1), 4, 1)
    );
    assert_eq!((k[0].pos.line, k[0].pos.col), (3, 7));
    // Everything left out: Interval 2s, Timeout = Interval, Fall 3, Rise 2.
    assert_eq!(k[1].run, Path::new("/usr/local/sbin/check db"));
    assert_eq!(
        (k[1].interval, k[1].timeout, k[1].fall, k[1].rise),
        (defaults::CHECK_INTERVAL, defaults::CHECK_INTERVAL, 3, 2)
    );
    assert_eq!(defaults::CHECK_INTERVAL, secs(2));
    // A longer Interval alone takes the Timeout with it.
    let c = ok_with("Check { Run = /x Interval = 1m }").config;
    assert_eq!(c.checks()[0].timeout, secs(60));
    // No Check block: none.
    assert!(ok(MIN).config.checks().is_empty());
}

#[test]
fn glued_equals_are_split_without_a_word_and_nothing_warns() {
    let l = ok_with("Check { Run=/x Interval=3s Timeout =2s Fall= 5 Rise=1 }");
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let k = &l.config.checks()[0];
    assert_eq!(
        (k.run.as_path(), k.interval, k.timeout, k.fall, k.rise),
        (Path::new("/x"), secs(3), secs(2), 5, 1)
    );
}

#[test]
fn a_parameter_set_twice_warns_and_the_last_wins() {
    let l = ok_with("Check {\n Run = /a\n Fall = 2\n Fall = 6\n}");
    assert_eq!(l.config.checks()[0].fall, 6);
    assert_eq!(
        warnings(&l),
        ["t.conf:6:2: warning: Fall is set again (first at line 5); the last value wins"]
    );
}

#[test]
fn errors_name_the_place_and_what_is_expected() {
    for (extra, want) in [
        (
            "Check { Interval = 2s }",
            "t.conf:3:7: Check block without Run: name the program that checks the service (Run = /usr/local/sbin/check-web)",
        ),
        (
            "Check { }",
            "t.conf:3:7: Check block without Run: name the program that checks the service (Run = /usr/local/sbin/check-web)",
        ),
        (
            "Check { Run = check-web }",
            "t.conf:3:15: Run must be an absolute path, not 'check-web'",
        ),
        ("Check { Run = '' }", "t.conf:3:15: Run must not be empty"),
        (
            "Check { Run = /usr/bin/test -e /run/ok }",
            "t.conf:3:29: '-e' after Run = /usr/bin/test: a check runs its program without a shell and without arguments; put the command line in a script and name the script",
        ),
        (
            "Check { Run = /x Timeout = 3s }",
            "t.conf:3:28: Timeout 3s is longer than the check's Interval (2s, the default): a run must end before the next one starts; make Timeout at most Interval",
        ),
        (
            "Check {\n Run = /x\n Interval = 1s\n Timeout = 2s\n}",
            "t.conf:6:12: Timeout 2s is longer than the check's Interval (1s): a run must end before the next one starts; make Timeout at most Interval",
        ),
        ("Check { Run = /x Fall = 0 }", "t.conf:3:25: Fall must be at least 1"),
        ("Check { Run = /x Rise = 0 }", "t.conf:3:25: Rise must be at least 1"),
        (
            "Check { Run = /x Interval = 0s }",
            "t.conf:3:29: Interval must be at least 1s",
        ),
        (
            "Check { Run = /x Timeout = 0s }",
            "t.conf:3:28: Timeout must be at least 1s",
        ),
        (
            "Check { Run = /x Interval = 99999999999h }",
            "t.conf:3:29: time '99999999999h' is too large",
        ),
        (
            "Check { Run = /x }\nCheck { Run = /x Fall = 1 }",
            "t.conf:4:7: a Check of /x is configured already (at line 3); each program may be checked once",
        ),
        (
            "Check { Run = /x Fall = many }",
            "t.conf:3:25: expected a number of failures in a row for Fall, found 'many'",
        ),
        (
            "Check { Run = /x Rise = }",
            "t.conf:3:25: expected a number of passes in a row for Rise, found '}'",
        ),
        (
            "Check { Interval = 2s Every = 2s Run = /x }",
            "t.conf:3:23: expected Run, Interval, Timeout, Fall, Rise or '}' in Check, found 'Every'",
        ),
        (
            "Check { Run = /x Interval 2s }",
            "t.conf:3:27: expected '=' after Interval, found '2s'",
        ),
        (
            "Check { Run = /x Interval = 2 }",
            "t.conf:3:29: expected a time such as 30s, 5m or 1h for Interval (a unit is required), found '2'",
        ),
        (
            "Check { Run = /x\nMature = 5s",
            "t.conf:4:1: expected '}' to close Check opened at line 3, found 'Mature'",
        ),
        ("Check Run = /x", "t.conf:3:7: expected '{' after Check, found 'Run'"),
    ] {
        assert_eq!(error_with(extra), want, "{extra}");
    }
}

#[test]
fn the_parameters_are_no_keywords_outside_the_block() {
    // C reads `rise` as a string: so does this parser, without a word.
    let l = ok("Group = rise\nVIFs { eth0:10.0.0.1/32 }\nControl = timeout\n");
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    assert_eq!(l.config.group(), "rise");
    // A misspelt directive is close to Check.
    assert_eq!(
        error_with("Chek { Run = /x }"),
        "t.conf:3:1: unknown directive 'Chek' (did you mean 'Check'?)"
    );
}

#[test]
fn check_events_for_hooks() {
    let l = ok_with(
        "Check { Run = /x }\nRunScript /usr/local/sbin/page check down\nRunDynamic m:f CHECK   Up\nRunDynamic Alert::sub check down\n",
    );
    // No warning about the blanks: C knows no `check` event at all.
    assert!(l.warnings.is_empty(), "{:?}", warnings(&l));
    let h = l.config.hooks();
    assert_eq!(h[0].event, HookEvent::CheckDown);
    assert_eq!(
        h[0].target,
        HookTarget::Script {
            path: PathBuf::from("/usr/local/sbin/page")
        }
    );
    assert_eq!(h[1].event, HookEvent::CheckUp);
    assert_eq!(h[2].event, HookEvent::CheckDown);
    assert_eq!(HookEvent::CheckDown.as_str(), "check down");
    assert_eq!(HookEvent::CheckUp.as_str(), "check up");
    assert!(!HookEvent::CheckUp.is_per_vif() && HookEvent::OnUp.is_per_vif());
    assert_eq!(
        error_with("RunScript /x check\nsideways"),
        "t.conf:4:1: expected 'up' or 'down' after 'check' on the same line, found 'sideways'"
    );
}

#[test]
fn a_check_event_without_a_check_warns() {
    let l = ok_with("RunScript /usr/local/sbin/page check down\n");
    assert_eq!(
        warnings(&l),
        ["t.conf:3:1: warning: a hook on 'check down', but no Check block: it never runs"]
    );
}

#[test]
fn the_summary_shows_each_check() {
    let s = ok_with("Check { Run = /usr/local/sbin/check-web Timeout = 1s }")
        .config
        .summary();
    for needle in [
        "Checks               1: the node leaves the group while any is down",
        "/usr/local/sbin/check-web  every 2s, killed after 1s, down after 3 failures in a row, up after 2 passes",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
    assert!(!ok(MIN).config.summary().contains("Checks"));
}

#[test]
fn a_reload_names_the_checks_added_changed_and_removed() {
    let conf = |extra: &str| ok_with(extra).config;
    let old = conf("Check { Run = /a }\nCheck { Run = /b }\nCheck { Run = /c Fall = 2 }");
    // Moved in the file: nothing.
    let moved = conf("Check { Run = /c Fall = 2 }\n\nCheck { Run = /b }\nCheck { Run = /a }");
    let d = old.diff(&moved);
    assert!(!d.checks_changed() && d.settings.is_empty(), "{d:?}");
    let new = conf("Check { Run = /a }\nCheck { Run = /c Fall = 3 }\nCheck { Run = /d }");
    let d = old.diff(&new);
    assert!(d.checks_changed());
    assert_eq!(
        d.settings,
        [Setting::Checks {
            added: vec![PathBuf::from("/d")],
            removed: vec![PathBuf::from("/b")],
            changed: vec![PathBuf::from("/c")],
        }]
    );
    assert_eq!(d.summary(), ["checks added /d, changed /c, removed /b"]);
    // The defaults written out change nothing.
    let explicit = conf(
        "Check { Run = /a Interval = 2s Timeout = 2s Fall = 3 Rise = 2 }\nCheck { Run = /b }\nCheck { Run = /c Fall = 2 }",
    );
    assert!(old.diff(&explicit).settings.is_empty());
}
