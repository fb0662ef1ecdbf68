//! C wackamole 2.1.4 nodes in a test [`Cluster`]: the reference built
//! from `../shared/thirdparty/` (or found at `$WACKAMOLE_THIRDPARTY`),
//! started on a host of the cluster instead of the Rust daemon. On
//! spread-sim its libspread reaches Spread "PORT" at `/tmp/PORT`: a
//! symlink to the host's simulated daemon socket. On real Spread
//! ([`super::cluster::Backend::Real`]) it names the host's daemon as
//! the Rust node does, `4803@10.80.0.N` (libspread's PORT@HOST, over
//! TCP), and needs no link. C takes its identity from the host
//! name: each C process runs under `unshare --uts` with a name of its
//! own, resolved through the namespace's `/etc/netns/NS/hosts` (which
//! `ip netns exec` mounts over `/etc/hosts`). Everything is removed with
//! the cluster.
//!
//! A host's config is written once, in the common grammar (see
//! [`Cluster::write_conf_with`]); the C node reads a copy with `Spread =
//! PORT` (spread-sim) or `Spread = 4803@ADDR` (real Spread) and without the lines C does not know (`NodeAddress`).

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::cluster::Cluster;

/// Which program a host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rust,
    C,
}

/// The thirdparty build: `PREFIX/wackamole-c/{wackamole,wackatrl}`.
#[derive(Debug, Clone)]
pub struct Reference {
    pub prefix: PathBuf,
}

impl Reference {
    pub fn wackamole(&self) -> PathBuf {
        self.prefix.join("wackamole-c/wackamole")
    }

    pub fn wackatrl(&self) -> PathBuf {
        self.prefix.join("wackamole-c/wackatrl")
    }
}

/// The C reference of `common::thirdparty` (found or built once, with
/// root), or `None` after printing SKIPPED (a failure under
/// `WACKAMOLE_REQUIRE_THIRDPARTY=1`).
pub fn reference() -> Option<Reference> {
    super::thirdparty::real_prefix().map(|prefix| Reference { prefix })
}

/// What a C node leaves behind: its `/tmp/PORT` link (spread-sim; an
/// empty path on real Spread) and its namespace's hosts file. Removed on
/// drop.
struct CSide {
    link: PathBuf,
    hosts_dir: PathBuf,
}

impl Drop for CSide {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
        let _ = std::fs::remove_file(self.hosts_dir.join("hosts"));
        let _ = std::fs::remove_dir(&self.hosts_dir);
        // Only if no other test's namespace has a directory there.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// A fresh `/tmp/PORT` symlink to `target`: the first free port from a
/// pid-derived start (a link that exists belongs to someone else).
fn port_link(target: &Path) -> (u16, PathBuf) {
    let start = 20000 + (std::process::id() % 2000) * 10;
    for k in 0..20000u32 {
        let port = (20000 + (start - 20000 + k) % 40000) as u16;
        let link = PathBuf::from(format!("/tmp/{port}"));
        if std::os::unix::fs::symlink(target, &link).is_ok() {
            return (port, link);
        }
    }
    panic!("no free /tmp/PORT for a C node");
}

/// The host name a C node on host `i` takes.
pub fn c_host_name(i: usize) -> String {
    format!("wkmc{}", i + 1)
}

impl Cluster {
    /// Host `i`'s config as C reads it: the same file with `Spread =
    /// PORT` and without `NodeAddress`. Returns its path.
    pub fn c_conf(&self, i: usize, port: u16) -> PathBuf {
        self.c_conf_spread(i, &port.to_string())
    }

    /// Host `i`'s config as C reads it, naming its Spread daemon
    /// `spread` (`PORT` or `PORT@HOST`). Returns its path.
    pub fn c_conf_spread(&self, i: usize, spread: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.hosts[i].conf).unwrap();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("NodeAddress"))
            .map(|l| {
                if l.trim_start().starts_with("Spread =") {
                    format!("Spread = {spread}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        let conf = self.dir.join(format!("c{}.conf", i + 1));
        std::fs::write(&conf, lines.join("\n") + "\n").unwrap();
        conf
    }

    /// Starts the C daemon on host `i` (instead of the Rust one), with
    /// host `i`'s config; its output goes to host `i`'s log. Stop it as
    /// a Rust daemon: [`Cluster::kill`], [`Cluster::signal`].
    pub fn start_c(&mut self, i: usize, r: &Reference) {
        // Real Spread: the host's daemon over TCP, as the Rust node has
        // it. spread-sim: a `/tmp/PORT` link to its simulated daemon.
        let (spread, link) = if self.real.is_some() {
            (self.spread_address(i), PathBuf::new())
        } else {
            let sock = super::spread_sim::daemon_socket(&self.dir.0, i + 1);
            let (port, link) = port_link(&sock);
            (port.to_string(), link)
        };
        let h = &self.hosts[i];
        let name = c_host_name(i);
        let hosts_dir = PathBuf::from(format!("/etc/netns/{}", h.ns.name));
        std::fs::create_dir_all(&hosts_dir).unwrap();
        std::fs::write(
            hosts_dir.join("hosts"),
            format!("127.0.0.1 localhost\n{} {name}\n", h.addr),
        )
        .unwrap();
        let side = CSide { link, hosts_dir };
        let conf = self.c_conf_spread(i, &spread);
        let h = &mut self.hosts[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&h.log)
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &h.ns.name, "unshare", "--uts", "sh", "-c"])
            .arg(format!(
                "hostname {name} && exec {} -d -c {}",
                r.wackamole().display(),
                conf.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the C wackamole");
        h.daemon = Some(child);
        h.guards.push(Box::new(side));
    }

    /// Starts host `i` as `kind`.
    pub fn start_as(&mut self, i: usize, kind: Kind, r: &Reference) {
        match kind {
            Kind::Rust => self.start(i),
            Kind::C => self.start_c(i, r),
        }
    }

    /// Runs a program as a C node on host `i` would: in its namespace,
    /// under its host name (C's `wackatrl` reads the config and resolves
    /// the host name as the daemon does). Bounded to 20 s.
    pub fn as_c_host(&self, i: usize, argv: &[&Path]) -> Output {
        let h = &self.hosts[i];
        let hosts_dir = PathBuf::from(format!("/etc/netns/{}", h.ns.name));
        // A C node on the host has written it already and removes it;
        // otherwise it goes when this returns.
        let _cleanup = (!hosts_dir.exists()).then(|| CSide {
            link: PathBuf::new(),
            hosts_dir: hosts_dir.clone(),
        });
        std::fs::create_dir_all(&hosts_dir).unwrap();
        let name = c_host_name(i);
        std::fs::write(
            hosts_dir.join("hosts"),
            format!("127.0.0.1 localhost\n{} {name}\n", h.addr),
        )
        .unwrap();
        let words: Vec<String> = argv.iter().map(|a| a.display().to_string()).collect();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &h.ns.name, "unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname {name} && exec {}", words.join(" ")));
        super::run::run_bounded(&mut cmd, Duration::from_secs(20))
    }

    /// Brings host `i` back after [`Cluster::crash_host`]: the VIPs its
    /// killed daemon left up are taken down, its link comes up, its
    /// Spread daemon restarts (on real Spread: and has joined the
    /// running daemons' ring), and it starts as `kind`.
    pub fn revive(&mut self, i: usize, kind: Kind, r: &Reference) {
        for v in self.held(i) {
            self.hosts[i]
                .ns
                .ip(&["addr", "del", &format!("{v}/32"), "dev", "e0"]);
        }
        self.hosts[i].ns.ip(&["link", "set", "e0", "up"]);
        self.restart_spread(i);
        if let Some(real) = &self.real {
            let up: Vec<usize> = (0..self.hosts.len()).filter(|&j| real.running(j)).collect();
            real.wait_ring(&up, Duration::from_secs(30));
        }
        self.start_as(i, kind, r);
    }

    /// Each VIP of `vips` and the hosts holding it, where not exactly one.
    pub fn not_once(&self, vips: &[Ipv4Addr]) -> Vec<(Ipv4Addr, Vec<usize>)> {
        vips.iter()
            .copied()
            .zip(self.holders(vips))
            .filter(|(_, h)| h.len() != 1)
            .collect()
    }
}
