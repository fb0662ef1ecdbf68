//! The `wackatrl` binary against fake daemons on a Unix socket in a
//! scratch directory: one that answers every request with bytes from the
//! library's encoders, and one that, like C wackamole 2.1.4, closes the
//! connection on a request byte it does not know.

mod common;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use common::scratch::{text, Scratch};
use wackamole::cluster::engine::Phase;
use wackamole::cluster::msg::Priority;
use wackamole::config::{IfAddr, VipAddr};
use wackamole::control::json::Value;
use wackamole::control::{
    encode_ack, encode_refused, encode_reload, encode_state, encode_status, status_value,
    MemberInfo, NodeState, QuorumInfo, Snapshot, VifInfo,
};
use wackamole::health::{CheckInfo, LastRun, State};

/// A scratch directory of this file's tests, for a control socket
/// and a config naming it.
struct Dir(Scratch);

impl Dir {
    fn new(tag: &str) -> Dir {
        Dir(Scratch::new(&format!("wackatrl-{tag}")))
    }

    fn sock(&self) -> PathBuf {
        self.0.join("ctl.sock")
    }

    /// A config whose `Control` is this directory's socket.
    fn config(&self) -> PathBuf {
        self.config_with("")
    }

    /// [`config`](Self::config) and `extra`.
    fn config_with(&self, extra: &str) -> PathBuf {
        self.0.file(
            "wackamole.conf",
            &format!(
                "Group = g\n\
                 VirtualInterfaces {{\n    eth0:10.0.0.1/24\n    {{ eth1:192.168.7.2/32 eth1:192.168.7.3/28 }}\n}}\n\
                 Control = {}\n{extra}",
                self.sock().display()
            ),
        )
    }
}

fn v4(ifname: &str, a: &str, prefix: u8) -> VipAddr {
    VipAddr::V4(IfAddr {
        ifname: ifname.into(),
        addr: a.parse().unwrap(),
        prefix,
        net_prefix: 24,
    })
}

fn snapshot() -> Snapshot {
    Snapshot {
        node: Some("10.1.1.1".parse().unwrap()),
        node_source: "NodeAddress".into(),
        private_group: Some("#wack1#n1".into()),
        spread: "4803".into(),
        membership: "spread".into(),
        group: "g".into(),
        connected: true,
        failure_simulated: false,
        state: NodeState::In(Phase::Run),
        mature: true,
        view_id: Some([1, 2, 3]),
        members: vec![MemberInfo {
            name: "#wack1#n1".into(),
            addr: "10.1.1.1".parse().unwrap(),
            count: 1,
        }],
        vifs: vec![
            VifInfo {
                addrs: vec![v4("eth0", "10.0.0.1", 24)],
                owner: "10.1.1.1".parse().unwrap(),
                priority: Priority::Claimed,
                held_here: true,
            },
            VifInfo {
                addrs: vec![v4("eth1", "192.168.7.2", 32), v4("eth1", "192.168.7.3", 28)],
                owner: Ipv4Addr::UNSPECIFIED,
                priority: Priority::Unclaimed,
                held_here: false,
            },
        ],
        last_change: None,
        quorum: None,
        checks: Vec::new(),
    }
}

const LISTING: &str = "Owner: 10.1.1.1\n\
                       \t*    eth0:10.0.0.1/24\n\
                       Owner: not acquired\n\
                       \t*    eth1:192.168.7.2/32\n\
                       \t ->  eth1:192.168.7.3/28\n";

#[derive(Clone)]
struct Answers {
    /// Close on bytes 3 and 4, as C 2.1.4 does.
    c_daemon: bool,
    ack: Vec<u8>,
    reload: Vec<u8>,
    /// What the status says of `Quorum`.
    quorum: Option<QuorumInfo>,
    /// The status's health checks, and whether `-f` is in force.
    checks: Vec<CheckInfo>,
    failure_simulated: bool,
}

impl Answers {
    fn rust() -> Answers {
        Answers {
            c_daemon: false,
            ack: encode_ack().to_vec(),
            reload: encode_reload(true, "reloaded: 2 VIFs"),
            quorum: None,
            checks: Vec::new(),
            failure_simulated: false,
        }
    }

    fn status(&self) -> Vec<u8> {
        encode_status(&Snapshot {
            quorum: self.quorum,
            checks: self.checks.clone(),
            failure_simulated: self.failure_simulated,
            ..snapshot()
        })
    }
}

/// Serves `sock` in a thread; returns the request bytes received, in
/// order, across connections.
fn fake_daemon(sock: &Path, answers: Answers) -> Arc<Mutex<Vec<u8>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = UnixListener::bind(sock).unwrap();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut s = conn.unwrap();
            let mut b = [0u8; 1];
            while let Ok(1) = s.read(&mut b) {
                log.lock().unwrap().push(b[0]);
                let reply = match b[0] {
                    0 => encode_state(&snapshot()),
                    1 | 2 => answers.ack.clone(),
                    3 if !answers.c_daemon => answers.status(),
                    4 if !answers.c_daemon => answers.reload.clone(),
                    _ => break,
                };
                if s.write_all(&reply).is_err() {
                    break;
                }
            }
        }
    });
    seen
}

fn wackatrl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wackatrl"))
        .args(args)
        .output()
        .unwrap()
}

fn run(d: &Dir, flag: &str) -> Output {
    let conf = d.config();
    wackatrl(&["-c", conf.to_str().unwrap(), flag])
}

#[test]
fn l_prints_the_table_as_c_does_with_real_prefixes() {
    let d = Dir::new("l");
    let seen = fake_daemon(&d.sock(), Answers::rust());
    let out = run(&d, "-l");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), LISTING);
    // Without Quorum or checks in the config, GET_STATE alone: a C
    // daemon is never sent a request it does not know.
    assert_eq!(*seen.lock().unwrap(), [0]);
}

/// Below quorum, `-l` says so after C's listing, on a line a parser of
/// C's listing skips; at or above quorum it prints C's listing alone.
#[test]
fn l_says_when_the_node_is_below_quorum() {
    for (members, note) in [
        (1, "Below quorum: 1 of the 2 members Quorum needs are in the view; this node holds no VIP\n"),
        (2, ""),
    ] {
        let d = Dir::new(&format!("lq{members}"));
        let answers = Answers {
            quorum: Some(QuorumInfo {
                needed: 2,
                members,
                below: members < 2,
            }),
            ..Answers::rust()
        };
        let seen = fake_daemon(&d.sock(), answers);
        let conf = d.config_with("Quorum = 2\n");
        let out = wackatrl(&["-c", conf.to_str().unwrap(), "-l"]);
        assert_eq!(text(&out.stderr), "");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stdout), format!("{LISTING}{note}"));
        assert_eq!(*seen.lock().unwrap(), [0, 3], "GET_STATE, then the JSON status");
        let owners = text(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("Owner: ") || l.starts_with('\t'))
            .count();
        assert_eq!(owners, LISTING.lines().count(), "C's lines are C's");
    }
}

#[test]
fn j_prints_the_status_as_indented_json() {
    let d = Dir::new("j");
    let seen = fake_daemon(&d.sock(), Answers::rust());
    let out = run(&d, "-j");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("{\n  \"node\": \"10.1.1.1\",\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("\n}\n"), "{stdout}");
    assert_eq!(Value::parse(&stdout).unwrap(), status_value(&snapshot()));
    assert!(stdout.contains("\"view_id\": \"1:2:3\""), "{stdout}");
    assert_eq!(*seen.lock().unwrap(), [3]);
}

#[test]
fn f_and_s_post_then_list() {
    for (flag, byte) in [("-f", 1u8), ("-s", 2u8)] {
        let d = Dir::new(&format!("fs{byte}"));
        let seen = fake_daemon(&d.sock(), Answers::rust());
        let out = run(&d, flag);
        assert_eq!(text(&out.stderr), "", "{flag}");
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(text(&out.stdout), LISTING, "{flag}");
        assert_eq!(*seen.lock().unwrap(), [byte, 0], "{flag}");
    }
}

#[test]
fn a_non_zero_status_for_f_is_reported() {
    let d = Dir::new("fbad");
    let answers = Answers {
        ack: (-1i32).to_be_bytes().to_vec(),
        ..Answers::rust()
    };
    fake_daemon(&d.sock(), answers);
    let out = run(&d, "-f");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), LISTING);
    assert!(
        text(&out.stderr).contains("answered FAILURE with status -1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn r_prints_the_daemons_message() {
    let d = Dir::new("rok");
    let seen = fake_daemon(&d.sock(), Answers::rust());
    let out = run(&d, "-r");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "reloaded: 2 VIFs\n");
    assert_eq!(*seen.lock().unwrap(), [4]);

    let d = Dir::new("rbad");
    let answers = Answers {
        reload: encode_reload(
            false,
            "/etc/wackamole.conf:3:1: expected '}', found \"Notify\"",
        ),
        ..Answers::rust()
    };
    fake_daemon(&d.sock(), answers);
    let out = run(&d, "-r");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "wackatrl: reload refused: /etc/wackamole.conf:3:1: expected '}', found \"Notify\"\n"
    );

    // The daemon says "reload refused: ..." itself: said once.
    let d = Dir::new("rtwice");
    let answers = Answers {
        reload: encode_reload(
            false,
            "reload refused: 1 error(s); the running configuration is kept",
        ),
        ..Answers::rust()
    };
    fake_daemon(&d.sock(), answers);
    let out = run(&d, "-r");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "wackatrl: reload refused: 1 error(s); the running configuration is kept\n"
    );
}

#[test]
fn without_a_daemon_the_socket_is_named() {
    let d = Dir::new("none");
    let out = run(&d, "-l");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "wackatrl: cannot reach wackamole at {}: No such file or directory (is wackamole running?)\n",
            d.sock().display()
        )
    );
    // A socket nobody listens on any more.
    drop(UnixListener::bind(d.sock()).unwrap());
    let out = run(&d, "-j");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Connection refused (is wackamole running?)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_c_daemon_serves_l_f_s_and_refuses_j_and_r_plainly() {
    let d = Dir::new("c");
    let answers = Answers {
        c_daemon: true,
        ..Answers::rust()
    };
    fake_daemon(&d.sock(), answers);
    for flag in ["-l", "-f", "-s"] {
        let out = run(&d, flag);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(text(&out.stdout), LISTING, "{flag}");
    }
    // Run by another user, wackatrl says a refusal is just as likely.
    let why = if nix::unistd::geteuid().is_root() {
        "it does not know this request (a C wackamole 2.1.4?)"
    } else {
        "it does not serve this user (only root and members of the daemon's ControlGroup may use it), or does not know this request (a C wackamole 2.1.4?)"
    };
    for flag in ["-j", "-r"] {
        let out = run(&d, flag);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        assert_eq!(text(&out.stdout), "", "{flag}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "wackatrl: the daemon at {} closed the connection: {why}\n",
                d.sock().display()
            ),
            "{flag}"
        );
    }
}

#[test]
fn usage_exits_2() {
    for args in [&[][..], &["-l", "-j"], &["-x"], &["-l", "extra"]] {
        let out = wackatrl(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("Usage: wackatrl [-c FILE] -l|-j|-f|-s|-r"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "");
    }
    let out = wackatrl(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("-r"));
}

/// A check that failed three times in a row.
fn web_down() -> CheckInfo {
    CheckInfo {
        run: "/usr/local/sbin/check-web".into(),
        state: State::Down,
        passes: 0,
        failures: 3,
        fall: 3,
        rise: 2,
        interval: std::time::Duration::from_secs(2),
        timeout: std::time::Duration::from_secs(1),
        last: Some(LastRun {
            result: "exit status 1".into(),
            exit_status: Some(1),
            ago: std::time::Duration::from_millis(400),
        }),
    }
}

const CHECK_CONF: &str = "Check { Run = /usr/local/sbin/check-web }\n";

/// With checks in its configuration, `-l` (and `-f`, `-s`) append a
/// line per check after C's listing, which stays as it was.
#[test]
fn l_appends_the_checks_when_the_config_has_some() {
    let d = Dir::new("lchecks");
    let answers = Answers {
        checks: vec![web_down()],
        ..Answers::rust()
    };
    let seen = fake_daemon(&d.sock(), answers);
    let conf = d.config_with(CHECK_CONF);
    let out = wackatrl(&["-c", conf.to_str().unwrap(), "-l"]);
    assert_eq!(text(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{LISTING}Check /usr/local/sbin/check-web: down, failed 3 times in a row; last run 0.4s ago: exit status 1\n"
        )
    );
    assert_eq!(*seen.lock().unwrap(), [0, 3]);
}

/// A C daemon cannot have checks; if the file has some anyway, `-l`
/// prints C's listing and nothing else, and exits 0.
#[test]
fn l_with_checks_against_a_c_daemon_prints_the_listing() {
    let d = Dir::new("lchecksc");
    let answers = Answers {
        c_daemon: true,
        ..Answers::rust()
    };
    fake_daemon(&d.sock(), answers);
    let conf = d.config_with(CHECK_CONF);
    let out = wackatrl(&["-c", conf.to_str().unwrap(), "-l"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), LISTING);
}

/// `-s` refused while a check is down: why, on stderr, then the
/// listing and exit 1.
#[test]
fn s_refused_says_which_check_keeps_the_node_out() {
    for (failure_simulated, then) in [
        (false, "it rejoins by itself once every check passes"),
        (
            true,
            "wackatrl -f stays in force: run wackatrl -s again once every check passes",
        ),
    ] {
        let d = Dir::new(&format!("srefused{failure_simulated}"));
        let answers = Answers {
            ack: encode_refused().to_vec(),
            checks: vec![web_down()],
            failure_simulated,
            ..Answers::rust()
        };
        let seen = fake_daemon(&d.sock(), answers);
        let conf = d.config_with(CHECK_CONF);
        let out = wackatrl(&["-c", conf.to_str().unwrap(), "-s"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!("wackatrl: the node stays out of the group: check /usr/local/sbin/check-web is down (failed 3 times in a row; last: exit status 1); {then}\n")
        );
        assert!(
            text(&out.stdout).starts_with(LISTING),
            "{}",
            text(&out.stdout)
        );
        assert_eq!(*seen.lock().unwrap(), [2, 3, 0, 3]);
    }
}
