//! The health checks in the status: their JSON (`wackatrl -j`, and what
//! `wackatrl` reads back), the lines `wackatrl -l` appends to C's
//! listing, and why `wackatrl -s` was refused. Pure.

use std::fmt::Write as _;
use std::time::Duration;

use super::json::Value;
use crate::health::{report::times, CheckInfo, LastRun, State};

/// A duration as the status gives it: whole milliseconds.
fn ms(d: Duration) -> Value {
    Value::int(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One check as JSON; the field names are part of the interface
/// (documented in wackatrl(8)).
pub fn check_value(c: &CheckInfo) -> Value {
    let last = c.last.as_ref();
    Value::Object(vec![
        ("run".into(), Value::str(&c.run)),
        ("state".into(), Value::str(c.state.as_str())),
        ("passes".into(), Value::int(i64::from(c.passes))),
        ("failures".into(), Value::int(i64::from(c.failures))),
        ("fall".into(), Value::int(i64::from(c.fall))),
        ("rise".into(), Value::int(i64::from(c.rise))),
        ("interval_ms".into(), ms(c.interval)),
        ("timeout_ms".into(), ms(c.timeout)),
        (
            "last_result".into(),
            Value::opt(last, |l| Value::str(&l.result)),
        ),
        (
            "last_exit_status".into(),
            Value::opt(last.and_then(|l| l.exit_status), |n| {
                Value::int(i64::from(n))
            }),
        ),
        ("last_run_ms_ago".into(), Value::opt(last, |l| ms(l.ago))),
    ])
}

/// The checks of a status (`"checks"`), as far as they can be read: an
/// entry that is not a check is left out, and a status without the
/// member (a daemon without checks) has none.
pub fn checks_of_status(v: &Value) -> Vec<CheckInfo> {
    let Some(list) = v.get("checks").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter().filter_map(check_of_value).collect()
}

fn check_of_value(v: &Value) -> Option<CheckInfo> {
    let int = |k: &str| v.get(k).and_then(Value::as_i64);
    let count = |k: &str| int(k).and_then(|n| u32::try_from(n).ok());
    let duration = |k: &str| {
        int(k)
            .and_then(|n| u64::try_from(n).ok())
            .map(Duration::from_millis)
    };
    let last = v
        .get("last_result")
        .and_then(Value::as_str)
        .map(|result| LastRun {
            result: result.to_string(),
            exit_status: int("last_exit_status").and_then(|n| u8::try_from(n).ok()),
            ago: duration("last_run_ms_ago").unwrap_or_default(),
        });
    Some(CheckInfo {
        run: v.get("run")?.as_str()?.to_string(),
        state: State::from_name(v.get("state")?.as_str()?)?,
        passes: count("passes")?,
        failures: count("failures")?,
        fall: count("fall")?,
        rise: count("rise")?,
        interval: duration("interval_ms")?,
        timeout: duration("timeout_ms")?,
        last,
    })
}

/// `1.2s`, to a tenth of a second.
fn ago(d: Duration) -> String {
    let tenths = d.as_millis() / 100;
    format!("{}.{}s", tenths / 10, tenths % 10)
}

/// What a check's count says: `passed 2 times in a row`.
fn streak(c: &CheckInfo) -> String {
    match (c.passes, c.failures) {
        (0, 0) => "not run yet".to_string(),
        (p, 0) => format!("passed {} in a row", times(p)),
        (_, f) => format!("failed {} in a row", times(f)),
    }
}

/// The lines `wackatrl -l` prints after C's listing, one per check:
///
/// ```text
/// Check /usr/local/sbin/check-web: down, failed 3 times in a row; last run 0.4s ago: exit status 1
/// ```
pub fn format_checks(checks: &[CheckInfo]) -> String {
    let mut out = String::new();
    for c in checks {
        let _ = write!(out, "Check {}: {}, {}", c.run, c.state, streak(c));
        if let Some(l) = &c.last {
            let _ = write!(out, "; last run {} ago: {}", ago(l.ago), l.result);
        }
        out.push('\n');
    }
    out
}

/// Why `wackatrl -s` leaves the node out: the checks that are not up,
/// and what brings the node back (`operator_out`: the `-f` stays in
/// force).
pub fn refusal(checks: &[CheckInfo], operator_out: bool) -> String {
    let why: Vec<String> = checks
        .iter()
        .filter(|c| c.state != State::Up)
        .map(|c| match (&c.last, c.state) {
            (_, State::Starting) | (None, _) => format!("check {} has not run yet", c.run),
            (Some(l), _) => format!(
                "check {} is {} ({}; last: {})",
                c.run,
                c.state,
                streak(c),
                l.result
            ),
        })
        .collect();
    let why = if why.is_empty() {
        "a check does not pass".to_string()
    } else {
        why.join(", ")
    };
    let then = if operator_out {
        "wackatrl -f stays in force: run wackatrl -s again once every check passes"
    } else {
        "it rejoins by itself once every check passes"
    };
    format!("the node stays out of the group: {why}; {then}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> CheckInfo {
        CheckInfo {
            run: "/usr/local/sbin/check-web".into(),
            state: State::Down,
            passes: 0,
            failures: 3,
            fall: 3,
            rise: 2,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            last: Some(LastRun {
                result: "exit status 1".into(),
                exit_status: Some(1),
                ago: Duration::from_millis(1234),
            }),
        }
    }

    fn db() -> CheckInfo {
        CheckInfo {
            run: "/usr/local/sbin/check-db".into(),
            state: State::Up,
            passes: 1,
            failures: 0,
            last: Some(LastRun {
                result: "exit status 0".into(),
                exit_status: Some(0),
                ago: Duration::from_millis(50),
            }),
            ..web()
        }
    }

    fn fresh() -> CheckInfo {
        CheckInfo {
            run: "/x".into(),
            state: State::Starting,
            passes: 0,
            failures: 0,
            last: None,
            ..web()
        }
    }

    #[test]
    fn json_names_and_round_trip() {
        let v = check_value(&web());
        assert_eq!(
            v.to_string(),
            concat!(
                r#"{"run":"/usr/local/sbin/check-web","state":"down","passes":0,"failures":3,"#,
                r#""fall":3,"rise":2,"interval_ms":2000,"timeout_ms":1000,"#,
                r#""last_result":"exit status 1","last_exit_status":1,"last_run_ms_ago":1234}"#
            )
        );
        let fresh_v = check_value(&fresh());
        for k in ["last_result", "last_exit_status", "last_run_ms_ago"] {
            assert!(fresh_v.get(k).unwrap().is_null(), "{k}");
        }
        let status = Value::Object(vec![(
            "checks".into(),
            Value::Array(vec![v, Value::int(3), fresh_v, check_value(&db())]),
        )]);
        // What is not a check is left out.
        assert_eq!(checks_of_status(&status), [web(), fresh(), db()]);
        assert!(checks_of_status(&Value::Object(vec![])).is_empty());
    }

    #[test]
    fn the_lines_wackatrl_l_appends() {
        assert_eq!(
            format_checks(&[web(), db(), fresh()]),
            concat!(
                "Check /usr/local/sbin/check-web: down, failed 3 times in a row; last run 1.2s ago: exit status 1\n",
                "Check /usr/local/sbin/check-db: up, passed 1 time in a row; last run 0.0s ago: exit status 0\n",
                "Check /x: starting, not run yet\n",
            )
        );
        assert_eq!(format_checks(&[]), "");
    }

    #[test]
    fn why_s_is_refused() {
        assert_eq!(
            refusal(&[web(), db(), fresh()], false),
            "the node stays out of the group: check /usr/local/sbin/check-web is down (failed 3 times in a row; last: exit status 1), check /x has not run yet; it rejoins by itself once every check passes"
        );
        assert_eq!(
            refusal(&[web()], true),
            "the node stays out of the group: check /usr/local/sbin/check-web is down (failed 3 times in a row; last: exit status 1); wackatrl -f stays in force: run wackatrl -s again once every check passes"
        );
    }
}
