//! `spread-sim`: a TEST DOUBLE of a set of Spread daemons, for CI and
//! the demo. Production uses real Spread.
//!
//! One process simulates several daemons. Each listens on its own Unix
//! socket path and/or TCP address and speaks the Spread client protocol
//! (the handshake, requests and deliveries of `wackamole::spread::wire`).
//!
//! - [`model`]: what real Spread decides (total order, views, group
//!   ids), a pure model; the authority on what this double does.
//! - [`server`]: the daemon side of the handshake and sessions, sans-I/O
//!   (bytes in, actions out) over the model.
//! - [`control`]: the control commands and answers, sans-I/O.
//! - [`shell`]: the sockets around them (one mio loop).
//! - this file: the command line.
//!
//! A control socket takes one command per line: `partition A B | C`,
//! `heal`, `crash A`, `restart A`, `hold`, `release`, `groups`,
//! `daemons`, `quit`; each
//! answer ends with a line `OK` or `ERR <reason>`. `spread-sim --ctl
//! PATH COMMAND...` sends one command and prints the answer.

mod control;
mod model;
mod server;
mod shell;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wackamole::spread::name::{self, MAX_DAEMON_NAME};

use shell::{DaemonSpec, Listen, Sim};

const HELP: &str = "\
spread-sim: a TEST DOUBLE of Spread daemons, for tests and demos only.
Production clusters use real Spread (www.spread.org).

Usage: spread-sim -d NAME=LISTEN[,LISTEN...] [-d ...] -c CONTROL [-v]
       spread-sim --ctl CONTROL COMMAND...

  -d NAME=LISTEN  a simulated daemon NAME (at most 19 bytes), listening on
                  each LISTEN: a Unix socket path (/...) or PORT@ADDR (TCP)
  -c CONTROL      the control socket path
  -v              log every connection and request on stderr
  --ctl           send one COMMAND to a running spread-sim and print the answer

Commands (one per line on the control socket):
  partition A B | C   split the live daemons into components
  heal                join all live daemons into one component
  crash A             daemon A dies: its clients' connections drop
  restart A           daemon A comes back, with no clients
  hold                multicasts wait, unordered, until release (memberships
                      go on: a message is ordered after views its sender
                      had not seen, as Spread may order it)
  release [by-member] order the held multicasts now, in arrival order (or
                      sender by sender, in member order)
  groups              every group and its members, per component
  daemons             every daemon, its state and listen addresses
  quit                stop spread-sim
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--ctl") {
        return ctl(&args[1..]);
    }
    let mut o = getopts::Options::new();
    o.optmulti("d", "", "a simulated daemon", "NAME=LISTEN[,LISTEN...]");
    o.optopt("c", "", "control socket", "PATH");
    o.optflag("v", "", "verbose");
    o.optflag("h", "help", "help");
    let m = match o.parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("spread-sim: {e}\n{HELP}");
            return ExitCode::from(2);
        }
    };
    if m.opt_present("h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let specs = match m
        .opt_strs("d")
        .iter()
        .map(|d| parse_daemon(d))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            eprintln!("spread-sim: at least one -d is needed\n{HELP}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("spread-sim: {e}");
            return ExitCode::from(2);
        }
    };
    for (i, d) in specs.iter().enumerate() {
        if specs[..i].iter().any(|e| e.name == d.name) {
            eprintln!("spread-sim: daemon '{}' is given twice", d.name);
            return ExitCode::from(2);
        }
    }
    let Some(control) = m.opt_str("c") else {
        eprintln!("spread-sim: -c CONTROL is needed\n{HELP}");
        return ExitCode::from(2);
    };
    match Sim::new(specs, PathBuf::from(control), m.opt_present("v")).and_then(|mut s| s.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spread-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_daemon(s: &str) -> Result<DaemonSpec, String> {
    let (name, listens) = s
        .split_once('=')
        .ok_or_else(|| format!("-d {s}: expected NAME=LISTEN"))?;
    if name::check_daemon_name(name).is_err() {
        return Err(format!(
            "-d {s}: a daemon name has 1 to {MAX_DAEMON_NAME} bytes of '$' to '~', no '#'"
        ));
    }
    let mut listen = Vec::new();
    for l in listens.split(',') {
        if l.starts_with('/') {
            listen.push(Listen::Unix(PathBuf::from(l)));
        } else if let Some((port, host)) = l.split_once('@') {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let ip: std::net::IpAddr = host
                .parse()
                .map_err(|_| format!("-d {s}: '{host}' is not an IP address"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("-d {s}: '{port}' is not a port"))?;
            listen.push(Listen::Tcp(SocketAddr::new(ip, port)));
        } else {
            return Err(format!(
                "-d {s}: '{l}' is neither /socket/path nor PORT@ADDR"
            ));
        }
    }
    Ok(DaemonSpec {
        name: name.to_string(),
        listen,
    })
}

/// `--ctl PATH COMMAND...`: one command, its answer on stdout.
fn ctl(args: &[String]) -> ExitCode {
    let [path, cmd @ ..] = args else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    let run = || -> io::Result<String> {
        let mut s = std::os::unix::net::UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        writeln!(s, "{}", cmd.join(" "))?;
        let mut answer = String::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
            if answer.ends_with("OK\n")
                || answer.lines().last().is_some_and(|l| l.starts_with("ERR"))
            {
                break;
            }
        }
        Ok(answer)
    };
    match run() {
        Ok(a) => {
            print!("{a}");
            if a.lines().last().is_some_and(|l| l == "OK") {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("spread-sim --ctl {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
