//! What a local user can no longer do to the root daemon through the
//! files and sockets it shares with them: the pid file (`-p`), the Spread
//! socket and the fallback `./wackamole.conf`. Real binaries; the daemons
//! run in network namespaces of their own. Tests that need root print
//! SKIPPED without it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::netns::{can_run, Netns};
use common::run::run_bounded;
use common::scratch::{read, text, Scratch};

/// How long a refusal may take: it must never hang.
const BOUNDED: Duration = Duration::from_secs(20);

fn wackamole_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wackamole")
}

/// Waits until `ok` holds, failing the test with `what` after `within`.
fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A daemon's world: a scratch directory, a network namespace, and a
/// config whose Spread socket, control socket and identity are its own.
struct Site {
    dir: Scratch,
    ns: Netns,
    conf: PathBuf,
}

impl Site {
    fn new(tag: &str) -> Site {
        let dir = Scratch::new(&format!("wkm-sec-{tag}"));
        let ns = Netns::new(tag);
        let conf = dir.join("wackamole.conf");
        let site = Site { dir, ns, conf };
        site.write_conf(&site.dir.join("spread.sock"), "");
        site
    }

    fn write_conf(&self, spread: &Path, extra: &str) {
        std::fs::write(
            &self.conf,
            format!(
                "Spread = {}\nGroup = wksec\nControl = {}\nNodeAddress = 192.0.2.1\n\
                 SpreadRetryInterval = 1s\nVirtualInterfaces {{\n    lo:192.0.2.100/32\n}}\n{extra}\n",
                spread.display(),
                self.dir.join("ctl.sock").display()
            ),
        )
        .unwrap();
    }

    /// `wackamole ARGS -c CONF` in the namespace.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns.name, wackamole_bin()])
            .args(args)
            .arg("-c")
            .arg(&self.conf);
        c
    }

    /// Runs `wackamole ARGS` to its end (it must refuse, not run).
    fn refused(&self, args: &[&str]) -> Output {
        let out = run_bounded(&mut self.command(args), BOUNDED);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        out
    }

    /// Starts `wackamole -d ARGS`, its log to `log`.
    fn start(&self, args: &[&str], log: &str) -> Daemon {
        let log = self.dir.join(log);
        let child = self
            .command(&[&["-d"], args].concat())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start wackamole");
        Daemon { child, log }
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no '{needle}' in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and its exit status.
    fn stop(mut self) -> Option<i32> {
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + BOUNDED;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            assert!(Instant::now() < deadline, "the daemon did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the pid file ----------------------------------------------------------

#[test]
fn a_symlinked_pid_path_is_refused_and_its_target_untouched() {
    if !can_run() {
        return;
    }
    let site = Site::new("pidln");
    let target = site.dir.file("precious", "keep me\n");
    let pid = site.dir.join("wackamole.pid");
    std::os::unix::fs::symlink(&target, &pid).unwrap();
    let p = pid.to_str().unwrap();
    let want = format!("refusing the pid file {p}: it is a symbolic link, not a regular file");
    // In the foreground, and detaching (the launcher says it at once).
    for args in [&["-d", "-p", p][..], &["-p", p]] {
        let out = site.refused(args);
        assert!(
            text(&out.stderr).contains(&want),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(read(&target), "keep me\n", "{args:?}");
        assert!(pid.is_symlink());
    }
}

#[test]
fn a_fifo_at_the_pid_path_is_refused_without_hanging() {
    if !can_run() {
        return;
    }
    let site = Site::new("pidfifo");
    let pid = site.dir.join("wackamole.pid");
    nix::unistd::mkfifo(&pid, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let p = pid.to_str().unwrap();
    for args in [&["-d", "-p", p][..], &["-p", p]] {
        let out = site.refused(args);
        assert!(
            text(&out.stderr).contains(&format!(
                "refusing the pid file {p}: it is a FIFO, not a regular file"
            )),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_stale_pid_file_naming_a_live_process_does_not_stop_a_start() {
    if !can_run() {
        return;
    }
    let site = Site::new("pidstale");
    let pid = site.dir.join("wackamole.pid");
    // Pid 1 is alive, and no wackamole: a crash left the file, and the
    // number was taken by another process since.
    std::fs::write(&pid, "1\n").unwrap();
    let d = site.start(&["-p", pid.to_str().unwrap()], "d.log");
    let want = format!("{}\n", d.pid());
    wait_for("the pid file", BOUNDED, || {
        std::fs::read_to_string(&pid).is_ok_and(|t| t == want)
    });
    let mode = std::fs::metadata(&pid).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    assert_eq!(d.stop(), Some(0));
    assert!(!pid.exists(), "removed at exit");
}

#[test]
fn a_second_daemon_with_the_same_pid_file_is_refused() {
    if !can_run() {
        return;
    }
    let site = Site::new("pidtwo");
    let pid = site.dir.join("wackamole.pid");
    let p = pid.to_str().unwrap();
    let first = site.start(&["-p", p], "first.log");
    let want = format!("{}\n", first.pid());
    wait_for("the pid file", BOUNDED, || {
        std::fs::read_to_string(&pid).is_ok_and(|t| t == want)
    });
    let msg = format!(
        "wackamole is already running (pid {} holds the lock on {p})",
        first.pid()
    );
    for args in [&["-d", "-p", p][..], &["-p", p]] {
        let out = site.refused(args);
        assert!(
            text(&out.stderr).contains(&msg),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(read(&pid), want, "the first one's file is untouched");
    }
    assert!(!first.log().contains("ERROR"), "{}", first.log());
    assert_eq!(first.stop(), Some(0));
    assert!(!pid.exists());
}

// ---- the Spread socket -----------------------------------------------------

/// spread-sim with one daemon at `dir/d1.sock`, as user `uid` (0: as
/// the test); killed on drop.
struct Sim {
    child: Child,
    sock: PathBuf,
}

impl Sim {
    fn start(dir: &Path, uid: u32) -> Sim {
        let sock = dir.join("d1.sock");
        let ctl = dir.join("sim.ctl");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_spread-sim"));
        cmd.arg("-d")
            .arg(format!("d1={}", sock.display()))
            .arg("-c")
            .arg(&ctl)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sim.log")).unwrap());
        if uid != 0 {
            cmd.uid(uid).gid(uid);
        }
        let child = cmd.spawn().expect("start spread-sim");
        let sim = Sim { child, sock };
        wait_for("spread-sim", BOUNDED, || ctl.exists());
        sim
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), None).unwrap();
}

/// How many warnings of `log` contain `needle` (under -d the retries
/// that say the same again are debug lines: the system log has them not).
fn warnings(log: &str, needle: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(": warning: ") && l.contains(needle))
        .count()
}

#[test]
fn a_spread_socket_owned_by_another_user_is_refused_until_spread_user_names_them() {
    if !can_run() {
        return;
    }
    let site = Site::new("spown");
    let sim = Sim::start(&site.dir.0, 0);
    // A local user's socket where Spread's should be.
    chown(&sim.sock, 65534);
    site.write_conf(&sim.sock, "");
    let d = site.start(&[], "d.log");
    let refusal = format!(
        "refusing the Spread socket {}: it is owned by uid 65534",
        sim.sock.display()
    );
    d.wait_log(&refusal, BOUNDED);
    assert!(
        d.log()
            .contains("not root or SpreadUser; set SpreadUser if Spread runs as that user"),
        "{}",
        d.log()
    );
    // Retried every second, logged once.
    std::thread::sleep(Duration::from_millis(3500));
    let log = d.log();
    assert_eq!(warnings(&log, &refusal), 1, "{log}");
    assert!(!log.contains("connected to"), "{log}");
    // A SpreadUser this host does not know is a refused reload.
    site.write_conf(&sim.sock, "SpreadUser = no-such-user-wkm");
    let _ = kill(Pid::from_raw(d.pid() as i32), Signal::SIGHUP);
    d.wait_log(
        &format!(
            "reload refused: {}: SpreadUser: no user 'no-such-user-wkm' on this host",
            site.conf.display()
        ),
        BOUNDED,
    );
    // Naming the owner lets the next attempt through.
    site.write_conf(&sim.sock, "SpreadUser = 65534");
    let _ = kill(Pid::from_raw(d.pid() as i32), Signal::SIGHUP);
    d.wait_log("connected to", BOUNDED);
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn spread_user_by_name_is_trusted_from_the_start_and_an_unknown_one_is_an_error() {
    if !can_run() {
        return;
    }
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        eprintln!("SKIPPED: no user 'nobody' on this host");
        return;
    };
    let site = Site::new("spname");
    let sim = Sim::start(&site.dir.0, 0);
    chown(&sim.sock, nobody.uid.as_raw());
    site.write_conf(&sim.sock, "SpreadUser = nobody");
    let d = site.start(&[], "d.log");
    d.wait_log("connected to", BOUNDED);
    assert!(!d.log().contains("refusing"), "{}", d.log());
    assert_eq!(d.stop(), Some(0));

    site.write_conf(&sim.sock, "SpreadUser = no-such-user-wkm");
    let want = format!(
        "{}: SpreadUser: no user 'no-such-user-wkm' on this host (expected a user name or a number)",
        site.conf.display()
    );
    let checked = site.refused(&["-t"]);
    assert!(
        text(&checked.stderr).contains(&want),
        "{}",
        text(&checked.stderr)
    );
    let started = site.refused(&["-d"]);
    assert!(
        text(&started.stderr).contains(&want),
        "{}",
        text(&started.stderr)
    );
}

#[test]
fn a_spread_daemon_running_as_another_user_is_refused_by_its_credentials() {
    if !can_run() {
        return;
    }
    let site = Site::new("sppeer");
    // spread-sim as nobody, in a directory of nobody's...
    let theirs = site.dir.join("nobody");
    std::fs::create_dir(&theirs).unwrap();
    chown(&theirs, 65534);
    let sim = Sim::start(&theirs, 65534);
    // ...with its socket handed to root: the name looks right, the
    // process behind it is not.
    chown(&sim.sock, 0);
    site.write_conf(&sim.sock, "");
    let d = site.start(&[], "d.log");
    let refusal = format!(
        "refusing the Spread daemon at {}: it runs as uid 65534",
        sim.sock.display()
    );
    d.wait_log(&refusal, BOUNDED);
    std::thread::sleep(Duration::from_millis(2500));
    let log = d.log();
    assert_eq!(warnings(&log, &refusal), 1, "{log}");
    assert!(!log.contains("connected to"), "{log}");
    assert_eq!(d.stop(), Some(0));
}

// ---- the fallback ./wackamole.conf ------------------------------------------

/// `SYSCONFDIR/wackamole.conf`, which comes before the fallback: the
/// fallback tests need a machine without one.
fn sysconf_is_absent() -> bool {
    let sys = Path::new(wackamole::config::SYSCONFDIR).join("wackamole.conf");
    if sys.exists() {
        eprintln!(
            "SKIPPED: {} exists, so ./wackamole.conf is never read",
            sys.display()
        );
        return false;
    }
    true
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `wackamole -t` in `dir`, without -c.
fn check_in(dir: &Path) -> Output {
    run_bounded(
        Command::new(wackamole_bin()).arg("-t").current_dir(dir),
        BOUNDED,
    )
}

#[test]
fn a_fallback_config_others_could_change_is_refused() {
    if !sysconf_is_absent() {
        return;
    }
    let d = Scratch::new("wkm-sec-fallback");
    let conf = d.file(
        "wackamole.conf",
        "Group = g\nNodeAddress = 192.0.2.1\nVIFs { lo:192.0.2.100/32 }\n",
    );
    set_mode(&conf, 0o666);
    let out = check_in(&d.0);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        "./wackamole.conf: refusing a configuration found in the working directory: \
         it is writable by everyone (mode 0666); without -c one is used only if root \
         (or the user running wackamole) owns it and nobody else may write it: \
         chmod go-w it, or name the file with -c FILE\n"
    );
    set_mode(&conf, 0o664);
    let out = check_in(&d.0);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("it is writable by its group (mode 0664)"));
    // Named with -c, the operator chose it: used, with a warning.
    let out = run_bounded(
        Command::new(wackamole_bin())
            .args(["-t", "-c", "wackamole.conf"])
            .current_dir(&d.0),
        BOUNDED,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "wackamole.conf: warning: it is writable by its group (mode 0664), and what it says runs as root (its hooks): chmod go-w it"
        ),
        "{}",
        text(&out.stderr)
    );
    set_mode(&conf, 0o644);
    let out = check_in(&d.0);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    if nix::unistd::geteuid().is_root() {
        chown(&conf, 65534);
        let out = check_in(&d.0);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains(
                "./wackamole.conf: refusing a configuration found in the working directory: it belongs to uid 65534"
            ),
            "{}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("chown root it, or name the file with -c FILE"));
    }
}

/// Kills a detached daemon when the test ends, passed or not.
struct Reaper(i32);

impl Drop for Reaper {
    fn drop(&mut self) {
        // Only while that pid is still a wackamole.
        if std::fs::read_to_string(format!("/proc/{}/comm", self.0))
            .is_ok_and(|c| c.trim() == "wackamole")
        {
            let _ = kill(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}

#[test]
fn a_fallback_config_is_checked_again_at_each_reload_of_a_detached_daemon() {
    if !can_run() || !sysconf_is_absent() {
        return;
    }
    let site = Site::new("fbhup");
    let pid = site.dir.join("wackamole.pid");
    // The daemon finds site.conf as ./wackamole.conf.
    let out = run_bounded(
        Command::new("ip")
            .args(["netns", "exec", &site.ns.name, wackamole_bin(), "-p"])
            .arg(&pid)
            .current_dir(&site.dir.0),
        BOUNDED,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let daemon: i32 = read(&pid).trim().parse().unwrap();
    let _reaper = Reaper(daemon);
    let reload = || {
        let out = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_wackatrl"))
                .arg("-c")
                .arg(&site.conf)
                .arg("-r"),
            BOUNDED,
        );
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    set_mode(&site.conf, 0o666);
    let said = reload();
    assert!(said.contains("reload refused"), "{said}");
    set_mode(&site.conf, 0o644);
    let said = reload();
    assert!(said.contains("reloaded"), "{said}");
    kill(Pid::from_raw(daemon), Signal::SIGTERM).unwrap();
    wait_for("the daemon to stop", BOUNDED, || !pid.exists());
}
