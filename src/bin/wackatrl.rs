//! `wackatrl`: asks a running wackamole for its VIF table (`-l`), its
//! status as JSON (`-j`), to simulate a failure (`-f`) or end one (`-s`),
//! or to reload its config (`-r`), over the control socket that the
//! config's `Control` names. `-l`, `-f` and `-s` also work against a C
//! wackamole 2.1.4.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use wackamole::config;
use wackamole::control::client::{describe, Client, ControlError};
use wackamole::control::json::Value;
use wackamole::control::{
    checks_of_status, format_checks, format_listing, refusal, QuorumInfo, Request, REFUSED,
};

/// How long wackatrl waits for the daemon at each step.
const TIMEOUT: Duration = Duration::from_secs(10);

const BRIEF: &str = "Usage: wackatrl [-c FILE] -l|-j|-f|-s|-r";

fn main() -> ExitCode {
    let mut o = getopts::Options::new();
    o.optopt("c", "", "configuration file (for its Control path)", "FILE");
    o.optflag("l", "", "list the VIF table");
    o.optflag("j", "", "print the daemon's status as JSON");
    o.optflag(
        "f",
        "",
        "simulate a failure: leave Spread and release every VIP",
    );
    o.optflag("s", "", "end a simulated failure: rejoin Spread");
    o.optflag("r", "", "reload the configuration");
    o.optflag("h", "", "print this help and exit");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m = match o.parse(&args) {
        Ok(m) if m.free.is_empty() => m,
        Ok(m) => return usage(&o, &format!("unexpected argument '{}'", m.free[0])),
        Err(e) => return usage(&o, &e.to_string()),
    };
    if m.opt_present("h") {
        print!("{}", o.usage(BRIEF));
        return ExitCode::SUCCESS;
    }
    let chosen: Vec<Request> = [
        ("l", Request::GetState),
        ("j", Request::StatusJson),
        ("f", Request::Failure),
        ("s", Request::Success),
        ("r", Request::Reload),
    ]
    .into_iter()
    .filter(|(f, _)| m.opt_present(f))
    .map(|(_, r)| r)
    .collect();
    let req = match chosen[..] {
        [r] => r,
        [] => return usage(&o, "one of -l, -j, -f, -s, -r is needed"),
        _ => return usage(&o, "only one of -l, -j, -f, -s, -r at a time"),
    };
    let path = m.opt_str("c").map(PathBuf::from);
    let Some(cfg) = config::load_and_report(path.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let extras = !cfg.checks().is_empty() || cfg.quorum().is_some();
    match run(cfg.control(), req, extras) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("wackatrl: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn usage(o: &getopts::Options, why: &str) -> ExitCode {
    eprintln!("wackatrl: {why}");
    eprint!("{}", o.usage(BRIEF));
    ExitCode::from(2)
}

/// Who the daemon serves, for the errors that come of not being one.
const WHO_MAY: &str = "only root and members of the daemon's ControlGroup may use it";

/// What C's listing cannot carry, after it: a line when the node is
/// below quorum, and the health checks' lines. Asked for (one JSON
/// status) only when the configuration has a `Quorum` or checks, so that
/// a C daemon, which does not know the request, is never sent it.
fn extra_lines(c: &mut Client, extras: bool) -> String {
    if !extras {
        return String::new();
    }
    let Ok(v) = c.status_json() else {
        return String::new();
    };
    let mut out = QuorumInfo::from_status(&v)
        .and_then(|q| q.note())
        .unwrap_or_default();
    out.push_str(&format_checks(&checks_of_status(&v)));
    out
}

/// Why the daemon refused SUCCESS, from its status.
fn why_refused(c: &mut Client) -> Option<String> {
    let v = c.status_json().ok()?;
    let operator_out = v
        .get("failure_simulated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(refusal(&checks_of_status(&v), operator_out))
}

/// Talks to the daemon; `Err` is the message for stderr (exit 1).
/// `extras`: the configuration has a `Quorum` or health checks, whose
/// lines follow the listing.
fn run(sock: &Path, req: Request, extras: bool) -> Result<ExitCode, String> {
    let shown = sock.display();
    let mut c = Client::connect(sock, TIMEOUT).map_err(|e| match e {
        ControlError::Connect(e) if e.kind() == std::io::ErrorKind::PermissionDenied => format!(
            "cannot reach wackamole at {shown}: {} ({WHO_MAY})",
            describe(&e)
        ),
        ControlError::Connect(e) => format!(
            "cannot reach wackamole at {shown}: {} (is wackamole running?)",
            describe(&e)
        ),
        e => format!("cannot reach wackamole at {shown}: {e}"),
    })?;
    // A daemon closes at once a peer it does not serve; not being root
    // makes that the likely reason.
    let refused = !nix::unistd::geteuid().is_root();
    let failed = |e: ControlError| {
        match e {
        ControlError::Closed if req.is_extension() && refused => format!(
            "the daemon at {shown} closed the connection: it does not serve this user ({WHO_MAY}), or does not know this request (a C wackamole 2.1.4?)"
        ),
        ControlError::Closed if req.is_extension() => format!(
            "the daemon at {shown} closed the connection: it does not know this request (a C wackamole 2.1.4?)"
        ),
        ControlError::Closed if refused => {
            format!("the daemon at {shown} closed the connection: {WHO_MAY}")
        }
        ControlError::Closed => {
            format!("the daemon at {shown} closed the connection without replying")
        }
        e => format!("{req} to the daemon at {shown}: {e}"),
    }
    };
    match req {
        Request::GetState => {
            let vifs = c.get_state().map_err(failed)?;
            print!("{}", format_listing(&vifs));
            print!("{}", extra_lines(&mut c, extras));
            Ok(ExitCode::SUCCESS)
        }
        Request::Failure | Request::Success => {
            let status = c.post(req).map_err(failed)?;
            let why = match (req, status) {
                (Request::Success, REFUSED) => why_refused(&mut c),
                _ => None,
            };
            match why {
                Some(why) => eprintln!("wackatrl: {why}"),
                None if status != 0 => {
                    eprintln!("wackatrl: the daemon at {shown} answered {req} with status {status}")
                }
                None => {}
            }
            let vifs = c.get_state().map_err(|e| match e {
                ControlError::Closed => {
                    format!("the daemon at {shown} closed the connection before sending its table")
                }
                e => format!("GET_STATE to the daemon at {shown}: {e}"),
            })?;
            print!("{}", format_listing(&vifs));
            print!("{}", extra_lines(&mut c, extras));
            Ok(if status == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Request::StatusJson => {
            let v = c.status_json().map_err(failed)?;
            println!("{}", v.to_pretty());
            Ok(ExitCode::SUCCESS)
        }
        Request::Reload => {
            let (ok, message) = c.reload().map_err(failed)?;
            if ok {
                println!("{message}");
                Ok(ExitCode::SUCCESS)
            } else {
                // The daemon's own words may say it already.
                let why = message.strip_prefix("reload refused: ").unwrap_or(&message);
                eprintln!("wackatrl: reload refused: {why}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
