//! Who can use the control socket, against the real binaries: a
//! `wackamole -d` in a network namespace of its own (`unshare -n`, with
//! a VIP on its `lo` and no Spread daemon: the control socket is served
//! all the same), and `wackatrl` run as root, as `nobody` and as a
//! member of a `ControlGroup` made for the test. Root only; each test
//! prints SKIPPED and passes elsewhere.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::scratch::{read, text, Scratch};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// The uid and gid of `nobody` on Linux (a user with no business here).
const NOBODY: u32 = 65534;

fn can_run(test: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {test}: needs root");
        return false;
    }
    let unshare = Command::new("unshare")
        .args(["-n", "true"])
        .stderr(Stdio::null())
        .status();
    if !unshare.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED {test}: 'unshare -n' is not allowed here");
        return false;
    }
    true
}

/// A scratch directory with a config whose `Control` is `DIR/ctl.sock`
/// (or wherever [`Node::control_at`] puts it).
struct Node {
    dir: Scratch,
    sock: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    daemon: Option<Child>,
}

impl Node {
    fn new(tag: &str) -> Node {
        let dir = Scratch::new(&format!("wackamole-ctlsec-{tag}"));
        let sock = dir.join("ctl.sock");
        let conf = dir.join("wackamole.conf");
        let log = dir.join("daemon.log");
        Node {
            dir,
            sock,
            conf,
            log,
            daemon: None,
        }
    }

    fn control_at(&mut self, sock: PathBuf) {
        self.sock = sock;
    }

    /// Writes the config, with `extra` lines.
    fn write_conf(&self, extra: &str) {
        std::fs::write(
            &self.conf,
            format!(
                "Spread = {}\nGroup = wkctl\nControl = {}\nNodeAddress = 192.0.2.1\n\
                 SpreadRetryInterval = 1s\nVirtualInterfaces {{\n    lo:192.0.2.100/32\n}}\n{extra}\n",
                self.dir.join("no-spread.sock").display(),
                self.sock.display(),
            ),
        )
        .unwrap();
    }

    /// Starts `wackamole -d` under umask 000, so that a socket made at
    /// the umask's mode would be world-writable.
    fn spawn(&mut self) {
        let log = File::create(&self.log).unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"umask 000; exec unshare -n "$0" -d -c "$1""#)
            .arg(env!("CARGO_BIN_EXE_wackamole"))
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start wackamole");
        self.daemon = Some(child);
    }

    /// Starts the daemon and waits for its socket; returns the socket's
    /// mode and group as first seen (checked every millisecond).
    fn start(&mut self) -> (u32, u32) {
        self.spawn();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(m) = std::fs::symlink_metadata(&self.sock) {
                return (m.mode() & 0o7777, m.gid());
            }
            if let Some(st) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!("wackamole exited ({st}):\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "no control socket after 10 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Runs the daemon expecting it to refuse to start; its stderr.
    fn start_fails(&mut self) -> String {
        self.spawn();
        let code = self.wait_exit(Duration::from_secs(10));
        assert_eq!(code, Some(1), "{}", self.logs());
        self.logs()
    }

    fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let child = self.daemon.as_mut()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.daemon = None;
                return st.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `wackatrl -c CONF FLAG` as `cmd` sets it up (user, groups).
    fn wackatrl(&self, flag: &str, setup: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wackatrl"));
        cmd.arg("-c").arg(&self.conf).arg(flag);
        setup(&mut cmd);
        cmd.output().unwrap()
    }

    fn wackatrl_as_root(&self, flag: &str) -> Output {
        self.wackatrl(flag, |_| {})
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(c) = &self.daemon {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            if self.wait_exit(Duration::from_secs(10)).is_none() {
                if let Some(mut c) = self.daemon.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }
}

/// A group made for one test (`groupadd`), removed on drop.
struct TempGroup {
    name: String,
    gid: u32,
}

impl TempGroup {
    fn new(tag: &str) -> Option<TempGroup> {
        let name = format!("wkc{tag}{}", std::process::id());
        let _ = Command::new("groupdel").arg(&name).output();
        let made = Command::new("groupadd").arg(&name).output().ok()?;
        if !made.status.success() {
            eprintln!("groupadd {name}: {}", text(&made.stderr));
            return None;
        }
        let gid = nix::unistd::Group::from_name(&name).ok()??.gid.as_raw();
        Some(TempGroup { name, gid })
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

fn as_user(uid: u32, gid: u32) -> impl FnOnce(&mut Command) {
    move |c: &mut Command| {
        // As root, std also drops the supplementary groups.
        c.uid(uid).gid(gid);
    }
}

fn assert_ok(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", text(&o.stderr));
}

fn is_status_json(o: &Output) -> bool {
    o.status.success() && text(&o.stdout).contains("\"group\": \"wkctl\"")
}

/// What happened to the entry `name` of a watched directory, in order.
fn events_for(watch: &Inotify, name: &str) -> Vec<AddWatchFlags> {
    let mut out = Vec::new();
    loop {
        match watch.read_events() {
            Ok(evs) => out.extend(
                evs.into_iter()
                    .filter(|e| e.name.as_deref() == Some(std::ffi::OsStr::new(name)))
                    .map(|e| e.mask),
            ),
            Err(nix::errno::Errno::EAGAIN) => return out,
            Err(e) => panic!("inotify: {e}"),
        }
    }
}

#[test]
fn the_socket_is_0600_from_the_start_and_root_uses_it() {
    if !can_run("the_socket_is_0600_from_the_start_and_root_uses_it") {
        return;
    }
    let mut n = Node::new("mode");
    n.write_conf("");
    // Every change at the path, from before the daemon starts.
    let watch = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
    watch
        .add_watch(
            &n.dir.0,
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_ATTRIB,
        )
        .unwrap();
    let first = n.start();
    assert_eq!(first, (0o600, 0), "as first seen\n{}", n.logs());
    let m = std::fs::symlink_metadata(&n.sock).unwrap();
    assert!(m.file_type().is_socket(), "{m:?}");
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o600, 0, 0));
    // Nothing else is left in the directory (the private directory the
    // socket was made in is gone).
    let names: Vec<String> = std::fs::read_dir(&n.dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|f| !f.starts_with(".wackamole-ctl")),
        "{names:?}"
    );
    let out = n.wackatrl_as_root("-j");
    assert!(is_status_json(&out), "{}", text(&out.stderr));
    // The socket appeared at the path with its mode (started under
    // umask 000, a socket made there and chmod'ed after would show an
    // attribute change: for a moment, anyone could have connected).
    let seen = events_for(&watch, "ctl.sock");
    assert!(
        !seen.iter().any(|e| e.contains(AddWatchFlags::IN_ATTRIB)),
        "the socket's mode changed after it appeared: {seen:?}"
    );
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        n.logs().contains(&format!(
            "control socket {} (mode 0600, root only)",
            n.sock.display()
        )),
        "{}",
        n.logs()
    );
}

#[test]
fn a_non_root_peer_is_refused_even_when_the_mode_lets_it_connect() {
    let test = "a_non_root_peer_is_refused_even_when_the_mode_lets_it_connect";
    if !can_run(test) {
        return;
    }
    let mut n = Node::new("peer");
    n.write_conf("");
    n.start();
    // The mode keeps nobody out at connect.
    let out = n.wackatrl("-l", as_user(NOBODY, NOBODY));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "wackatrl: cannot reach wackamole at {}: Permission denied (only root and members of the daemon's ControlGroup may use it)\n",
            n.sock.display()
        )
    );
    // Someone opened the mode up: the peer check still refuses, and a
    // flood of tries is one log line.
    std::fs::set_permissions(&n.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    for _ in 0..5 {
        let out = n.wackatrl("-l", as_user(NOBODY, NOBODY));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        assert_eq!(text(&out.stdout), "");
        assert_eq!(
            text(&out.stderr),
            format!(
                "wackatrl: the daemon at {} closed the connection: only root and members of the daemon's ControlGroup may use it\n",
                n.sock.display()
            )
        );
    }
    let out = n.wackatrl("-j", as_user(NOBODY, NOBODY));
    assert!(
        text(&out.stderr).contains("closed the connection: it does not serve this user (only root and members of the daemon's ControlGroup may use it), or does not know this request"),
        "{}",
        text(&out.stderr)
    );
    let logs = n.logs();
    let refusals = logs
        .lines()
        .filter(|l| l.contains("control: refused a connection from uid 65534"))
        .count();
    assert_eq!(refusals, 1, "{logs}");
    assert!(
        logs.contains("only root may use it (ControlGroup lets a group in)"),
        "{logs}"
    );
    // Root still is served.
    assert!(is_status_json(&n.wackatrl_as_root("-j")));
}

#[test]
fn control_group_members_are_served_and_a_reload_takes_the_group_away() {
    let test = "control_group_members_are_served_and_a_reload_takes_the_group_away";
    if !can_run(test) {
        return;
    }
    let Some(g) = TempGroup::new("m") else {
        eprintln!("SKIPPED {test}: cannot make a group with groupadd");
        return;
    };
    let mut n = Node::new("group");
    n.write_conf(&format!("ControlGroup = {}", g.name));
    let first = n.start();
    assert_eq!(first, (0o660, g.gid), "as first seen\n{}", n.logs());
    // A member by its primary group.
    let out = n.wackatrl("-j", as_user(NOBODY, g.gid));
    assert!(is_status_json(&out), "{}\n{}", text(&out.stderr), n.logs());
    assert_ok(&n.wackatrl("-l", as_user(NOBODY, g.gid)), "-l as a member");
    // A member by a supplementary group.
    if Command::new("setpriv").arg("--help").output().is_ok() {
        let out = n.wackatrl("-j", |c| {
            let exe = c.get_program().to_owned();
            let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
            *c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--groups"])
                .arg(g.gid.to_string())
                .arg("--")
                .arg(exe)
                .args(args);
        });
        assert!(is_status_json(&out), "{}\n{}", text(&out.stderr), n.logs());
    }
    // Not a member.
    let out = n.wackatrl("-j", as_user(NOBODY, NOBODY));
    assert_eq!(out.status.code(), Some(1));

    // The group goes from the config: the socket is root's alone again.
    n.write_conf("");
    let out = n.wackatrl_as_root("-r");
    assert_ok(&out, "-r");
    assert!(
        text(&out.stdout).contains("mode 0600, root only"),
        "{}",
        text(&out.stdout)
    );
    let m = std::fs::symlink_metadata(&n.sock).unwrap();
    assert_eq!((m.mode() & 0o7777, m.gid()), (0o600, 0));
    let out = n.wackatrl("-j", as_user(NOBODY, g.gid));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // And back.
    n.write_conf(&format!("ControlGroup = {}", g.gid));
    assert_ok(&n.wackatrl_as_root("-r"), "-r back");
    let m = std::fs::symlink_metadata(&n.sock).unwrap();
    assert_eq!((m.mode() & 0o7777, m.gid()), (0o660, g.gid));
    assert!(is_status_json(&n.wackatrl("-j", as_user(NOBODY, g.gid))));
}

#[test]
fn an_unknown_control_group_stops_the_start_and_refuses_a_reload() {
    let test = "an_unknown_control_group_stops_the_start_and_refuses_a_reload";
    if !can_run(test) {
        return;
    }
    let mut n = Node::new("nogroup");
    n.write_conf("ControlGroup = no-such-group-wkctl");
    let err = n.start_fails();
    assert!(
        err.contains("ControlGroup = no-such-group-wkctl: no such group"),
        "{err}"
    );
    assert!(!n.sock.exists());

    n.write_conf("");
    n.start();
    n.write_conf("ControlGroup = no-such-group-wkctl");
    let out = n.wackatrl_as_root("-r");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(
            "ControlGroup = no-such-group-wkctl: no such group; the running configuration is kept"
        ),
        "{}",
        text(&out.stderr)
    );
    let m = std::fs::symlink_metadata(&n.sock).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
}

/// `-t` looks the group up as the start would (no root needed).
#[test]
fn t_checks_that_the_control_group_exists() {
    let d = Scratch::new("wackamole-ctlsec-t");
    let conf = d.file(
        "wackamole.conf",
        "Group = g\nNodeAddress = 192.0.2.1\nVirtualInterfaces { eth0:10.0.0.1/32 }\nControlGroup = no-such-group-wkctl\n",
    );
    let t = |conf: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_wackamole"))
            .arg("-t")
            .arg("-c")
            .arg(conf)
            .output()
            .unwrap()
    };
    let out = t(&conf);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "wackamole: ControlGroup = no-such-group-wkctl: no such group\n"
    );
    let conf = d.file(
        "wackamole.conf",
        "Group = g\nNodeAddress = 192.0.2.1\nVirtualInterfaces { eth0:10.0.0.1/32 }\nControlGroup = 0\n",
    );
    let out = t(&conf);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_squatted_control_path_is_refused_and_left_alone() {
    if !can_run("a_squatted_control_path_is_refused_and_left_alone") {
        return;
    }
    // A directory anyone may write, like /tmp (sticky or not).
    let mut n = Node::new("squat");
    let open = n.dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    n.control_at(open.join("ctl.sock"));
    n.write_conf("");
    let err = n.start_fails();
    assert!(
        err.contains(&format!(
            "control socket directory {} is writable by others (mode 1777); put Control in a directory only root can write, such as /var/run",
            open.display()
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);

    // A regular file at the path.
    n.control_at(n.dir.join("ctl.sock"));
    n.write_conf("");
    std::fs::write(&n.sock, "precious").unwrap();
    let err = n.start_fails();
    assert!(
        err.contains(&format!(
            "{} is a regular file, not a socket; not replacing it",
            n.sock.display()
        )),
        "{err}"
    );
    assert_eq!(read(&n.sock), "precious");

    // A symbolic link at the path: neither followed nor replaced.
    std::fs::remove_file(&n.sock).unwrap();
    let target = n.dir.join("target");
    std::fs::write(&target, "precious").unwrap();
    std::os::unix::fs::symlink(&target, &n.sock).unwrap();
    let err = n.start_fails();
    assert!(err.contains("is a symbolic link, not a socket"), "{err}");
    assert_eq!(std::fs::read_link(&n.sock).unwrap(), target);
    assert_eq!(read(&target), "precious");

    // A stale socket (a crashed daemon's) is replaced.
    std::fs::remove_file(&n.sock).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&n.sock).unwrap());
    let stale = std::fs::symlink_metadata(&n.sock).unwrap().ino();
    n.spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::symlink_metadata(&n.sock).unwrap().ino() == stale {
        assert!(Instant::now() < deadline, "not replaced:\n{}", n.logs());
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = std::fs::symlink_metadata(&n.sock).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert!(is_status_json(&n.wackatrl_as_root("-j")));
}

/// Reads until the daemon closes the connection; how long that took.
fn time_to_close(c: &mut UnixStream, since: Instant) -> Duration {
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut b = [0u8; 64];
    loop {
        match c.read(&mut b) {
            Ok(0) => return since.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("not closed within 15 s: {e}"),
        }
    }
}

#[test]
fn an_idle_session_is_closed_after_5_s_a_busy_one_is_not() {
    if !can_run("an_idle_session_is_closed_after_5_s_a_busy_one_is_not") {
        return;
    }
    let mut n = Node::new("idle");
    n.write_conf("");
    n.start();
    let t0 = Instant::now();
    let mut idle = UnixStream::connect(&n.sock).unwrap();
    let mut busy = UnixStream::connect(&n.sock).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A request every 3 s keeps a session open past 5 s.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_secs(3));
        busy.write_all(&[3]).unwrap();
        let mut len = [0u8; 4];
        busy.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        busy.read_exact(&mut body).unwrap();
        assert!(body.starts_with(b"{"));
    }
    let idle_for = time_to_close(&mut idle, t0);
    assert!(
        idle_for >= Duration::from_millis(4500) && idle_for < Duration::from_secs(9),
        "closed after {idle_for:?}"
    );
    // 6 s after connecting, the busy session is still served...
    busy.write_all(&[0]).unwrap();
    let mut len = [0u8; 4];
    busy.read_exact(&mut len).unwrap();
    assert_eq!(u32::from_be_bytes(len), 900);
    // ...and closed 5 s after its last request.
    let last = Instant::now();
    let rest = time_to_close(&mut busy, last);
    assert!(rest < Duration::from_secs(7), "closed after {rest:?}");
    assert!(n.logs().contains("idle for 5 s"), "{}", n.logs());
    // The daemon serves on.
    assert!(is_status_json(&n.wackatrl_as_root("-j")));
}
