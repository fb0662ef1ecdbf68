//! Starting the `spread-sim` test double and talking to its control
//! socket: one simulated Spread daemon `dI` per `DIR/dI.sock`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long spread-sim may take to come up.
const START: Duration = Duration::from_secs(10);

/// The socket of simulated daemon `d{i}` (from 1) in `dir`.
pub fn daemon_socket(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("d{i}.sock"))
}

/// Starts spread-sim with daemons d1..dN listening in `dir` and its
/// control socket at `ctl`, its stderr to `stderr`; returns once the
/// control socket exists (the test fails after 10 s).
pub fn start(dir: &Path, daemons: usize, ctl: &Path, stderr: Stdio) -> Child {
    let specs: Vec<String> = (1..=daemons)
        .map(|i| format!("d{i}={}", daemon_socket(dir, i).display()))
        .collect();
    launch(&specs, ctl, stderr)
}

/// Like [`start`], with each daemon given as spread-sim's `-d` takes it
/// (`NAME=SOCKET[,PORT@ADDR]`).
pub fn launch(daemons: &[String], ctl: &Path, stderr: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spread-sim"));
    for d in daemons {
        cmd.arg("-d").arg(d);
    }
    cmd.arg("-c").arg(ctl);
    let mut child = cmd.stderr(stderr).spawn().expect("start spread-sim");
    let deadline = Instant::now() + START;
    while !ctl.exists() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spread-sim did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// `spread-sim --ctl CTL COMMAND` (words split on spaces), whatever
/// it answers.
pub fn ctl_output(ctl: &Path, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spread-sim"))
        .arg("--ctl")
        .arg(ctl)
        .args(command.split(' '))
        .output()
        .unwrap()
}

/// [`ctl_output`]'s stdout; the test fails when the command does.
pub fn ctl(ctl: &Path, command: &str) -> String {
    let out = ctl_output(ctl, command);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "spread-sim {command}: {text}");
    text
}
