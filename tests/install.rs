//! `make install` and `make uninstall` into a staging root (DESTDIR):
//! the exact set of files, their modes and contents, the paths filled
//! into the init script and the systemd unit, the config that is never
//! overwritten, the compiled-in default config path, an uninstall that
//! leaves nothing behind, and (as root) the init script driving a real
//! daemon.
//!
//! Each layout builds the release binaries once, in its own target
//! directory under `target/install-test/` (about 20 s from scratch, a
//! second when up to date), so that it neither rebuilds nor races the
//! `target/release` that `make build` and `make demo` use.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::run::run_bounded;
use common::scratch::{read, text, Scratch};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A `make install` that builds may take this long; anything else less.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// A temporary directory of this file's tests, removed on drop.
fn temp_dir(tag: &str) -> Scratch {
    Scratch::new(&format!("wackamole-install-{tag}"))
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn can_run(test: &str) -> bool {
    if have("make") {
        return true;
    }
    eprintln!("SKIPPED {test}: make is not installed");
    false
}

/// One install layout: the make variables, and the target directory the
/// binaries are built in for them.
struct Layout {
    vars: Vec<(&'static str, &'static str)>,
    target: PathBuf,
}

impl Layout {
    fn new(name: &str, vars: &[(&'static str, &'static str)]) -> Layout {
        let base = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(ROOT).join("target"));
        Layout {
            vars: vars.to_vec(),
            target: base.join("install-test").join(name),
        }
    }

    /// `make TARGET VAR=...  DESTDIR=destdir`, from the project root with
    /// no install variable of ours or make's inherited from outside.
    fn make(&self, target: &str, destdir: &Path, limit: Duration) -> Output {
        let cargo = std::env::var("CARGO")
            .ok()
            .or(option_env!("CARGO").map(String::from))
            .unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new("make");
        cmd.current_dir(ROOT)
            .arg("--no-print-directory")
            .arg(target);
        for (k, v) in &self.vars {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg(format!("DESTDIR={}", destdir.display()))
            .arg(format!("CARGO={cargo}"))
            .env("CARGO_TARGET_DIR", &self.target);
        for v in [
            "PREFIX",
            "SBINDIR",
            "SYSCONFDIR",
            "MANDIR",
            "INITDIR",
            "SYSTEMDDIR",
            "INSTALL",
            "SAMPLE",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
            "CARGO_MAKEFLAGS",
        ] {
            cmd.env_remove(v);
        }
        let out = run_bounded(&mut cmd, limit);
        assert!(
            out.status.success(),
            "make {target} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    fn install(&self, destdir: &Path) -> Output {
        let start = Instant::now();
        let out = self.make("install", destdir, BUILD_TIMEOUT);
        eprintln!("make install: {:.1?}", start.elapsed());
        out
    }

    fn uninstall(&self, destdir: &Path) -> Output {
        self.make("uninstall", destdir, STEP_TIMEOUT)
    }
}

/// Every file under `dir` (relative path -> mode bits), and every
/// directory.
fn tree(dir: &Path) -> (BTreeMap<String, u32>, Vec<String>) {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, u32>, dirs: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                dirs.push(rel);
                walk(root, &p, files, dirs);
            } else {
                files.insert(rel, meta.permissions().mode() & 0o7777);
            }
        }
    }
    let mut files = BTreeMap::new();
    let mut dirs = Vec::new();
    walk(dir, dir, &mut files, &mut dirs);
    dirs.sort();
    (files, dirs)
}

fn source(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(ROOT).join(rel)).unwrap()
}

/// The files install puts down for these directories, with their modes.
fn expected(sbin: &str, etc: &str, man: &str, systemd: &str) -> BTreeMap<String, u32> {
    [
        (format!("{sbin}/wackamole"), 0o755),
        (format!("{sbin}/wackatrl"), 0o755),
        (format!("{man}/man8/wackamole.8"), 0o644),
        (format!("{man}/man8/wackatrl.8"), 0o644),
        (format!("{man}/man5/wackamole.conf.5"), 0o644),
        (format!("{etc}/wackamole.conf.sample"), 0o644),
        (format!("{etc}/wackamole.conf"), 0o644),
        (format!("{etc}/init.d/wackamole"), 0o755),
        (format!("{systemd}/wackamole.service"), 0o644),
    ]
    .into_iter()
    .collect()
}

/// Runs the installed `wackamole -t` without `-c` where there is no
/// `./wackamole.conf`, and returns what it printed.
fn check_without_c(bin: &Path, cwd: &Path) -> String {
    std::fs::create_dir_all(cwd).unwrap();
    let out = run_bounded(
        Command::new(bin).arg("-t").current_dir(cwd),
        Duration::from_secs(30),
    );
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn install_then_uninstall_leaves_nothing_behind() {
    if !can_run("install_then_uninstall_leaves_nothing_behind") {
        return;
    }
    let layout = Layout::new("usr-local", &[("PREFIX", "/usr/local")]);
    let tmp = temp_dir("layout");
    let dest = tmp.0.join("dest");
    std::fs::create_dir(&dest).unwrap();

    layout.install(&dest);
    let (files, _) = tree(&dest);
    let want = expected(
        "usr/local/sbin",
        "usr/local/etc",
        "usr/local/share/man",
        "usr/local/lib/systemd/system",
    );
    assert_eq!(files, want, "exactly these files, with these modes");

    // Contents: the binaries just built (not spread-sim), the sources
    // as they are, the sample as the config.
    let built = layout.target.join("release");
    for bin in ["wackamole", "wackatrl"] {
        assert_eq!(
            std::fs::read(dest.join("usr/local/sbin").join(bin)).unwrap(),
            std::fs::read(built.join(bin)).unwrap(),
            "{bin}"
        );
    }
    for (installed, src) in [
        ("usr/local/share/man/man8/wackamole.8", "man/wackamole.8"),
        ("usr/local/share/man/man8/wackatrl.8", "man/wackatrl.8"),
        (
            "usr/local/share/man/man5/wackamole.conf.5",
            "man/wackamole.conf.5",
        ),
        (
            "usr/local/etc/wackamole.conf.sample",
            "wackamole.conf.sample",
        ),
        ("usr/local/etc/wackamole.conf", "wackamole.conf.sample"),
    ] {
        assert_eq!(
            std::fs::read(dest.join(installed)).unwrap(),
            source(src),
            "{installed}"
        );
    }

    // The init script and the unit name the installed paths.
    let init = read(dest.join("usr/local/etc/init.d/wackamole"));
    let unit = read(dest.join("usr/local/lib/systemd/system/wackamole.service"));
    for (name, t) in [("init script", &init), ("unit", &unit)] {
        assert!(!t.contains('@'), "{name} has a placeholder left:\n{t}");
    }
    assert!(
        init.contains("\nDAEMON=/usr/local/sbin/wackamole\n"),
        "{init}"
    );
    assert!(
        init.contains("\nCONF=/usr/local/etc/wackamole.conf\n"),
        "{init}"
    );
    assert!(
        init.contains("\nPIDFILE=/var/run/wackamole.pid\n"),
        "{init}"
    );
    for line in [
        "Type=notify",
        "ExecStart=/usr/local/sbin/wackamole -d -c /usr/local/etc/wackamole.conf",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "After=network-online.target spread.service",
        "Wants=network-online.target",
        "Restart=on-failure",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "unit lacks {line}:\n{unit}"
        );
    }
    let sh = run_bounded(
        Command::new("sh")
            .arg("-n")
            .arg(dest.join("usr/local/etc/init.d/wackamole")),
        STEP_TIMEOUT,
    );
    assert!(sh.status.success(), "sh -n: {}", text(&sh.stderr));
    if have("systemd-analyze") {
        // verify wants ExecStart to exist: point it at the staged binary.
        let copy = tmp.0.join("verify/wackamole.service");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        let staged = dest.join("usr/local/sbin/wackamole");
        std::fs::write(
            &copy,
            unit.replace("/usr/local/sbin/wackamole", &staged.display().to_string()),
        )
        .unwrap();
        let v = run_bounded(
            Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(&copy),
            STEP_TIMEOUT,
        );
        let said = format!("{}{}", text(&v.stdout), text(&v.stderr));
        assert!(
            v.status.success() && said.trim().is_empty(),
            "systemd-analyze verify:\n{said}"
        );
    } else {
        eprintln!("systemd-analyze is not installed: the unit is not verified");
    }

    // Without -c the binary looks in PREFIX/etc (SYSCONFDIR's default).
    let said = check_without_c(&dest.join("usr/local/sbin/wackamole"), &tmp.0.join("cwd"));
    assert!(said.contains("/usr/local/etc/wackamole.conf"), "{said}");

    // An edited config survives a second install, and uninstall.
    let conf = dest.join("usr/local/etc/wackamole.conf");
    let edited = format!("{}\n# edited by hand\n", read(&conf));
    std::fs::write(&conf, &edited).unwrap();
    let again = layout.install(&dest);
    assert!(
        text(&again.stdout).contains("keeping the existing"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(read(&conf), edited);
    assert_eq!(tree(&dest).0, want);

    let out = layout.uninstall(&dest);
    assert!(
        text(&out.stdout).contains("differs from the sample"),
        "{}",
        text(&out.stdout)
    );
    let (files, dirs) = tree(&dest);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["usr/local/etc/wackamole.conf"],
        "only the edited config is left"
    );
    assert_eq!(dirs, ["usr", "usr/local", "usr/local/etc"]);
    assert_eq!(read(&conf), edited);

    // The config back as the sample: a second uninstall takes it too
    // (the installed sample is gone; it compares with the source's).
    std::fs::write(&conf, source("wackamole.conf.sample")).unwrap();
    layout.uninstall(&dest);
    let (files, dirs) = tree(&dest);
    assert!(files.is_empty() && dirs.is_empty(), "{files:?} {dirs:?}");

    // And a plain install then uninstall leaves the root empty.
    layout.install(&dest);
    assert_eq!(tree(&dest).0, want);
    layout.uninstall(&dest);
    let (files, dirs) = tree(&dest);
    assert!(files.is_empty() && dirs.is_empty(), "{files:?} {dirs:?}");
    assert!(dest.is_dir(), "DESTDIR itself stays");
}

#[test]
fn default_config_path_follows_sysconfdir() {
    if !can_run("default_config_path_follows_sysconfdir") {
        return;
    }
    // A SYSCONFDIR outside PREFIX that exists on no machine.
    let layout = Layout::new(
        "nonexistent-etc",
        &[
            ("PREFIX", "/opt/wackamole"),
            ("SYSCONFDIR", "/nonexistent/etc"),
        ],
    );
    let tmp = temp_dir("sysconfdir");
    let dest = tmp.0.join("dest");
    std::fs::create_dir(&dest).unwrap();
    assert!(!Path::new("/nonexistent/etc").exists());

    layout.install(&dest);
    let (files, _) = tree(&dest);
    assert_eq!(
        files,
        expected(
            "opt/wackamole/sbin",
            "nonexistent/etc",
            "opt/wackamole/share/man",
            "opt/wackamole/lib/systemd/system",
        )
    );
    let init = read(dest.join("nonexistent/etc/init.d/wackamole"));
    assert!(
        init.contains("\nDAEMON=/opt/wackamole/sbin/wackamole\n"),
        "{init}"
    );
    assert!(
        init.contains("\nCONF=/nonexistent/etc/wackamole.conf\n"),
        "{init}"
    );
    let unit = read(dest.join("opt/wackamole/lib/systemd/system/wackamole.service"));
    assert!(
        unit.contains(
            "\nExecStart=/opt/wackamole/sbin/wackamole -d -c /nonexistent/etc/wackamole.conf\n"
        ),
        "{unit}"
    );

    // The build-time path: -t without -c tries SYSCONFDIR's file first.
    let said = check_without_c(
        &dest.join("opt/wackamole/sbin/wackamole"),
        &tmp.0.join("cwd"),
    );
    assert!(
        said.contains(
            "no configuration file found (tried /nonexistent/etc/wackamole.conf, ./wackamole.conf)"
        ),
        "{said}"
    );

    layout.uninstall(&dest);
    let (files, dirs) = tree(&dest);
    assert!(files.is_empty() && dirs.is_empty(), "{files:?} {dirs:?}");
}

/// The installed init script against a real daemon, in a network
/// namespace of its own (so the daemon touches no interface of the
/// host). The pid file and config are moved into the temp dir; no
/// Spread answers, which the daemon waits for patiently.
#[test]
fn init_script_starts_reloads_and_stops_the_daemon() {
    let test = "init_script_starts_reloads_and_stops_the_daemon";
    if !can_run(test) {
        return;
    }
    if !nix::unistd::geteuid().is_root() || !have("unshare") {
        eprintln!("SKIPPED {test}: needs root and unshare");
        return;
    }
    let layout = Layout::new("usr-local", &[("PREFIX", "/usr/local")]);
    let tmp = temp_dir("init");
    let dest = tmp.0.join("dest");
    std::fs::create_dir(&dest).unwrap();
    layout.install(&dest);

    let run = tmp.0.join("run");
    std::fs::create_dir(&run).unwrap();
    // The control socket's directory: only root may write it.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pidfile = run.join("wackamole.pid");
    let conf = run.join("wackamole.conf");
    std::fs::write(
        &conf,
        format!(
            "Spread = {0}/spread.sock\nGroup = wkinit\nControl = {0}/ctl.sock\n\
             NodeAddress = 192.0.2.1\nSpreadRetryInterval = 1s\n\
             VirtualInterfaces {{\n    lo:192.0.2.100/32\n}}\n",
            run.display()
        ),
    )
    .unwrap();
    let installed = read(dest.join("usr/local/etc/init.d/wackamole"));
    let script: String = installed
        .lines()
        .map(|l| {
            if l.starts_with("DAEMON=") {
                format!("DAEMON={}", dest.join("usr/local/sbin/wackamole").display())
            } else if l.starts_with("CONF=") {
                format!("CONF={}", conf.display())
            } else if l.starts_with("PIDFILE=") {
                format!("PIDFILE={}", pidfile.display())
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let init = run.join("wackamole");
    std::fs::write(&init, script).unwrap();
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Each step prints "<step> rc=<status>"; status of a stopped daemon
    // is 3 (LSB), reload of one is 7.
    let steps =
        "for a in status start start status reload restart status stop status stop reload; do \
                     \"$INIT\" $a; echo \"$a rc=$?\"; \
                     [ $a = start ] || [ $a = restart ] && cp \"$PIDFILE\" \"$PIDFILE.$a\"; \
                 done";
    let out = run_bounded(
        Command::new("unshare")
            .args(["-n", "sh", "-c", steps])
            .env("INIT", &init)
            .env("PIDFILE", &pidfile),
        STEP_TIMEOUT,
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    // Whatever happened, no daemon is left behind.
    for f in ["wackamole.pid.start", "wackamole.pid.restart"] {
        if let Ok(pid) = read(run.join(f)).trim().parse::<i32>() {
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "wackamole")
            {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    let rcs: Vec<&str> = said.lines().filter(|l| l.contains(" rc=")).collect();
    assert_eq!(
        rcs,
        [
            "status rc=3",
            "start rc=0",
            "start rc=0",
            "status rc=0",
            "reload rc=0",
            "restart rc=0",
            "status rc=0",
            "stop rc=0",
            "status rc=3",
            "stop rc=0",
            "reload rc=7",
        ],
        "{said}"
    );
    assert!(
        said.contains("wackamole is already running (pid "),
        "{said}"
    );
    assert!(said.contains("Reloading wackamole (pid "), "{said}");
    let first = read(run.join("wackamole.pid.start"));
    let second = read(run.join("wackamole.pid.restart"));
    assert_ne!(first, second, "restart started a new daemon");
    assert!(!pidfile.exists(), "the daemon removed its pid file at stop");
}
