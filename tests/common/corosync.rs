//! Real Corosync 3 daemons for the cluster harness
//! ([`super::cluster::Cluster::new_on`] with
//! [`super::cluster::Backend::Corosync`]): one `corosync -f` per host
//! namespace, all in one knet cluster on the bridge. Every daemon is
//! SIGKILLed on drop.
//!
//! # How one daemon runs
//!
//! One `DIR/corosync.conf` for all hosts (totem version 2, knet, no
//! crypto, a nodelist with node I+1 at host I's address, no quorum
//! section: CPG needs no votequorum). Host I's daemon is started as
//!
//! ```text
//! ip netns exec NS unshare -m --propagation private sh -c \
//!   'mount -t tmpfs none /run &&
//!    mount --bind DIR/corosync-hI /var/log/corosync &&
//!    mount --bind DIR/corosync-hI/state /var/lib/corosync &&
//!    exec corosync -f -c DIR/corosync.conf'
//! ```
//!
//! - corosync 3.1.7 takes `-c FILE`: `/etc/corosync` is left alone;
//! - it locks `/run/corosync.pid` (the lock allows one daemon per
//!   machine): `/run` is a fresh tmpfs for each;
//! - its state (`ringid_N`, the totem ring sequence) lives in
//!   `/var/lib/corosync` (`state_dir`): a per-host directory that
//!   survives a restart, as on a real host;
//! - it logs to `/var/log/corosync/corosync.log`: the per-host
//!   directory, so one config serves every host ([`RealCorosync::log`]);
//! - `blackbox: off`: otherwise each daemon keeps an 8 MB
//!   `/dev/shm/qb-corosync-PID-blackbox-*` pair, left behind by a
//!   SIGKILL.
//!
//! `ip netns exec`, `unshare` (without `--fork`) and the shell's `exec`
//! all exec: the child's pid is the daemon's.
//!
//! Harmless at start: "Could not increase RLIMIT_MEMLOCK, not locking
//! memory" and knet's "host: N has no active links" until the peers
//! answer. knet needs nothing beyond UDP 5405 in each namespace. A
//! daemon answers its tools about 0.4 s after its start; three form a
//! ring in 1.1-1.5 s at [`TOKEN_MS`], 2.7 s at the default token.
//! Without votequorum (no quorum section) `corosync-quorumtool -l`
//! lists nobody: [`RealCorosync::members`] reads cmap's
//! `runtime.members.N.status` instead (`left` once a node is gone).
//!
//! # Can a client outside that mount namespace reach the daemon?
//!
//! Yes, as long as `/dev/shm` is NOT made private (it is not here). A
//! client (`corosync-cpgtool`, `corosync-cmapctl`, a program linked to
//! libcpg, `wackamole -d` as [`super::cluster::Cluster::start`] starts
//! it) run with only `ip netns exec NS …` reaches host NS's daemon:
//! - libqb connects over an abstract Unix socket (`cpg`, `cmap`, ...):
//!   abstract sockets belong to the network namespace, so each host's
//!   clients find their own host's daemon, and a client in no host
//!   namespace finds none (`CS_ERR_LIBRARY`);
//! - the server then creates the shared-memory rings in
//!   `/dev/shm/qb-SERVERPID-CLIENTPID-FD-RANDOM/` and the client opens
//!   them by name: both must see the same `/dev/shm`. Neither `ip netns
//!   exec` nor the mount namespace above remounts it, so they do.
//!   Measured: with a private tmpfs on `/dev/shm` for the daemon, every
//!   client failed (`Failed to initialize the cmap API. Error
//!   CS_ERR_NOT_EXIST`), and `nsenter -t PID -n -m` into the daemon's
//!   namespaces then worked. [`RealCorosync::start`] refuses a machine
//!   whose `/dev/shm` lies under `/run`, which it hides.
//!
//! A SIGKILLed daemon leaves its connections' `/dev/shm/qb-PID-*`
//! directories behind (the client does not remove them either):
//! [`RealCorosync::kill`] removes them. A client blocked in `poll` on
//! the CPG fd gets POLLIN|POLLHUP at once and `cpg_dispatch` returns
//! `CS_ERR_LIBRARY` (2), measured 20 ms after the SIGKILL (with the
//! measuring script's own start-up); `corosync-cmapctl -t` takes about
//! 1.2 s to notice, its own loop.
//!
//! # Timeouts
//!
//! With `token_coefficient` at its default (650 ms), totem's real token
//! is `token + (nodes - 2) * 650`: corosync's default of 3000 ms is
//! 3650 ms on three nodes, and the consensus timeout 1.2 times that.
//! When a token is given ([`RealCorosync::new`]) the config also says
//! `token_coefficient: 0`, so the token is what it says. See
//! [`TOKEN_MS`] for the one the cluster uses and what was measured.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to 1, nothing may skip for want of Corosync (a skip fails).
pub const ENV_REQUIRE: &str = "WACKAMOLE_REQUIRE_COROSYNC";

/// The totem token (ms) of [`super::cluster::Backend::Corosync`]
/// clusters, with `token_coefficient: 0` (consensus 1.2 times it, 600).
///
/// A lost node (SIGKILLed corosync, or a partition) is noticed after
/// about token + consensus. Measured on this 2-core machine with
/// another build running (tests/corosync.rs prints the TIMING lines):
///
/// | token               | ring of 3 | kill seen | partition seen | merge after heal |
/// |---------------------|-----------|-----------|----------------|------------------|
/// | default (3000+650)  | 2.7 s     | 8.0 s     | 8.1 s          | 2.9-3.0 s        |
/// | 1000                | 1.5 s     | 2.25 s    | 2.24 s         | 0.3-1.3 s        |
/// | 500                 | 1.1-1.5 s | 1.1 s     | 1.1 s          | 0.2-0.3 s        |
///
/// 500 held: no membership changed in a ring of three kept for 10 s
/// with four threads spinning on the two cores (three runs out of
/// three, `the_ring_holds_under_cpu_load`). corosync makes itself
/// SCHED_RR (priority 99) as root, also in these namespaces, so busy
/// ordinary processes hardly delay its token. That is about real
/// Spread's lowered timeouts (`real_spread::TIMEOUTS`: a lost daemon
/// noticed in about a second).
pub const TOKEN_MS: u32 = 500;

/// Whether the Corosync tests must run.
pub fn required() -> bool {
    std::env::var(ENV_REQUIRE).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Says why a Corosync test does not run; a failure when they are
/// [`required`].
pub fn skip(why: &str) {
    assert!(!required(), "{ENV_REQUIRE} is set, but {why}");
    eprintln!("SKIPPED: {why}");
}

/// The directory holding `corosync` and its tools, if any.
fn sbin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .find(|d| d.join("corosync").is_file())
}

/// The path of `corosync` or one of its tools (`corosync-cmapctl`).
pub fn tool(name: &str) -> PathBuf {
    sbin().expect("corosync installed").join(name)
}

/// Whether Corosync tests can run here: root, iproute2, and a
/// `corosync` binary. Prints why not (or fails, when [`required`]).
pub fn available() -> bool {
    if !nix::unistd::geteuid().is_root() {
        skip("needs root to create network namespaces");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        skip("needs iproute2 ('ip')");
        return false;
    }
    if sbin().is_none() {
        skip("no corosync binary (apt-get install corosync)");
        return false;
    }
    true
}

/// `corosync -v`'s version (`3.1.7`).
pub fn version() -> String {
    let out = Command::new(tool("corosync"))
        .arg("-v")
        .output()
        .expect("corosync -v");
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    first.split('\'').nth(1).unwrap_or(first).to_string()
}

/// The daemons of one cluster.
pub struct RealCorosync {
    dir: PathBuf,
    /// Per host: its namespace, its address.
    hosts: Vec<(String, Ipv4Addr)>,
    token_ms: Option<u32>,
    daemons: Vec<Option<Child>>,
}

impl RealCorosync {
    /// Writes `dir/corosync.conf` for `hosts` (namespace, address; node
    /// I+1 is host I), all on `subnet.0/24`, with totem's `token` when
    /// given (`None`: corosync's defaults). Makes each host's directory
    /// (`dir/corosync-hI`, its log and its `state`). Starts nothing.
    pub fn new(
        dir: &Path,
        subnet: &str,
        hosts: Vec<(String, Ipv4Addr)>,
        token_ms: Option<u32>,
    ) -> RealCorosync {
        for (i, (_, a)) in hosts.iter().enumerate() {
            assert!(
                a.to_string().starts_with(&format!("{subnet}.")),
                "host {i}'s {a} is not in {subnet}.0/24"
            );
        }
        let r = RealCorosync {
            dir: dir.to_path_buf(),
            daemons: hosts.iter().map(|_| None).collect(),
            hosts,
            token_ms,
        };
        for i in 0..r.hosts.len() {
            fs::create_dir_all(r.host_dir(i).join("state")).unwrap();
        }
        r.write_conf();
        r
    }

    /// Sets the token (see [`RealCorosync::new`]) for the daemons
    /// started from now on.
    pub fn set_token(&mut self, token_ms: Option<u32>) {
        self.token_ms = token_ms;
        self.write_conf();
    }

    pub fn token(&self) -> Option<u32> {
        self.token_ms
    }

    pub fn conf_path(&self) -> PathBuf {
        self.dir.join("corosync.conf")
    }

    fn write_conf(&self) {
        let token = match self.token_ms {
            Some(t) => format!("  token: {t}\n  token_coefficient: 0\n"),
            None => String::new(),
        };
        let nodes: Vec<String> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, (_, a))| {
                format!(
                    "  node {{\n    nodeid: {}\n    name: h{}\n    ring0_addr: {a}\n  }}",
                    i + 1,
                    i + 1
                )
            })
            .collect();
        let text = format!(
            "totem {{\n  version: 2\n  cluster_name: wackamole\n  transport: knet\n  \
             crypto_cipher: none\n  crypto_hash: none\n{token}}}\n\
             nodelist {{\n{}\n}}\n\
             logging {{\n  to_stderr: no\n  to_syslog: no\n  to_logfile: yes\n  \
             logfile: /var/log/corosync/corosync.log\n  timestamp: hires\n  blackbox: off\n}}\n",
            nodes.join("\n")
        );
        fs::write(self.conf_path(), text).unwrap();
    }

    /// Host `i`'s directory: bound on `/var/log/corosync` for its daemon.
    fn host_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("corosync-h{}", i + 1))
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.host_dir(i).join("corosync.log")
    }

    /// Host `i`'s daemon log (and what it wrote to stdout/stderr).
    pub fn log(&self, i: usize) -> String {
        let out = fs::read_to_string(self.host_dir(i).join("stderr")).unwrap_or_default();
        format!(
            "{out}{}",
            fs::read_to_string(self.log_path(i)).unwrap_or_default()
        )
    }

    /// Every daemon's log, for a failure message.
    pub fn logs(&self) -> String {
        (0..self.hosts.len())
            .map(|i| format!("--- corosync h{}:\n{}", i + 1, self.log(i)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Starts host `i`'s daemon (see the module's doc).
    pub fn start(&mut self, i: usize) {
        assert!(self.daemons[i].is_none(), "h{}'s corosync runs", i + 1);
        let shm = fs::canonicalize("/dev/shm").unwrap_or_else(|_| "/dev/shm".into());
        assert!(
            !shm.starts_with("/run"),
            "/dev/shm is {} under /run, which corosync's mount namespace hides: \
             its clients could not reach it",
            shm.display()
        );
        let hd = self.host_dir(i);
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(hd.join("stderr"))
            .unwrap();
        let script = format!(
            "mkdir -p /var/log/corosync /var/lib/corosync && \
             mount -t tmpfs none /run && mount --bind '{hd}' /var/log/corosync && \
             mount --bind '{hd}/state' /var/lib/corosync && exec '{bin}' -f -c '{conf}'",
            hd = hd.display(),
            bin = tool("corosync").display(),
            conf = self.conf_path().display(),
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.hosts[i].0])
            .args(["unshare", "-m", "--propagation", "private", "sh", "-c"])
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start corosync");
        self.daemons[i] = Some(child);
    }

    /// SIGKILLs host `i`'s daemon and reaps it (a crash: its clients'
    /// dispatch fails at once, its peers notice by the token timeout),
    /// then removes the shared memory of its connections.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.daemons[i].take() {
            let pid = c.id();
            let _ = c.kill();
            let _ = c.wait();
            remove_shm(pid);
        }
    }

    pub fn running(&self, i: usize) -> bool {
        self.daemons[i].is_some()
    }

    /// Host `i`'s daemon's pid (its child's: everything on the way execs).
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.daemons[i].as_ref().map(Child::id)
    }

    /// Runs corosync tool `name ARGS` in host `i`'s network namespace
    /// (and the root mount namespace, as a client would).
    pub fn tool_in(&self, i: usize, name: &str, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.hosts[i].0])
            .arg(tool(name))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec corosync tool")
    }

    /// The node ids host `i`'s daemon sees joined now (its
    /// `runtime.members.N.status`), or `None` when no daemon answers.
    pub fn members(&self, i: usize) -> Option<BTreeSet<u32>> {
        self.members_or_why(i).ok()
    }

    /// [`RealCorosync::members`], or what `corosync-cmapctl` said.
    pub fn members_or_why(&self, i: usize) -> Result<BTreeSet<u32>, String> {
        let out = self.tool_in(i, "corosync-cmapctl", &["-b", "runtime.members"]);
        if !out.status.success() {
            return Err(format!(
                "corosync-cmapctl: {} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .filter(|l| l.ends_with(".status (str) = joined"))
            .filter_map(|l| {
                l.strip_prefix("runtime.members.")?
                    .split('.')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect())
    }

    /// The node id of host `i`.
    pub fn nodeid(i: usize) -> u32 {
        i as u32 + 1
    }

    /// Waits until the daemons of `hosts` see exactly each other
    /// (each one's joined members are `hosts`' node ids). Panics with
    /// their logs after `within`.
    pub fn wait_ring(&self, hosts: &[usize], within: Duration) {
        let want: BTreeSet<u32> = hosts.iter().map(|&i| Self::nodeid(i)).collect();
        self.wait_views(hosts, &want, within);
    }

    /// Waits until each daemon of `hosts` sees `want` joined; panics with
    /// the logs after `within`.
    pub fn wait_views(&self, hosts: &[usize], want: &BTreeSet<u32>, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let seen: Vec<Result<BTreeSet<u32>, String>> =
                hosts.iter().map(|&i| self.members_or_why(i)).collect();
            if seen.iter().all(|s| s.as_ref() == Ok(want)) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the corosyncs of {hosts:?} did not all see {want:?} within {within:?}: \
                     they see {seen:?}\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Removes `/dev/shm/qb-PID-*`: the rings of a dead server's (`PID`)
/// connections.
fn remove_shm(pid: u32) {
    let prefix = format!("qb-{pid}-");
    if let Ok(rd) = fs::read_dir("/dev/shm") {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Drop for RealCorosync {
    fn drop(&mut self) {
        for i in 0..self.daemons.len() {
            self.kill(i);
        }
    }
}
