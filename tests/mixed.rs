//! C and Rust nodes in one group, over spread-sim: the C wackamole 2.1.4
//! built from `../shared/thirdparty/` (its libspread speaks to spread-sim
//! as to a real daemon) in a namespace of its own, with a host name of its
//! own (C takes its identity from the host name). Skipped without root or
//! without the reference build (tests/common/thirdparty.rs), unless
//! `WACKAMOLE_REQUIRE_THIRDPARTY=1`.

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::netns::can_run;
use common::thirdparty;

const SETTLE: Duration = Duration::from_secs(20);

/// The C wackamole of the reference build (tests/common/thirdparty.rs).
fn c_wackamole() -> Option<PathBuf> {
    thirdparty::prefix().map(|p| thirdparty::c_wackamole(&p))
}

/// Host `i` of `c` runs the C daemon instead of the Rust one. Returns it
/// and what to remove afterwards.
struct CNode {
    child: Child,
    link: PathBuf,
    hosts_dir: PathBuf,
}

impl Drop for CNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.link);
        let _ = std::fs::remove_dir_all(&self.hosts_dir);
        // Only if no other test's namespace has a directory there.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

fn start_c(c: &Cluster, i: usize, bin: &Path) -> CNode {
    let h = &c.hosts[i];
    // libspread reaches "PORT" at /tmp/PORT: point one at this host's
    // simulated daemon.
    let port = 20000 + (std::process::id() % 20000) as u16;
    let link = PathBuf::from(format!("/tmp/{port}"));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(c.dir.join(format!("d{}.sock", i + 1)), &link).unwrap();
    // Its identity: its host name, resolved through the namespace's own
    // hosts file (`ip netns exec` mounts /etc/netns/NAME/hosts).
    let name = format!("wkmc{}", i + 1);
    let hosts_dir = PathBuf::from(format!("/etc/netns/{}", h.ns.name));
    std::fs::create_dir_all(&hosts_dir).unwrap();
    std::fs::write(
        hosts_dir.join("hosts"),
        format!("127.0.0.1 localhost\n{} {name}\n", h.addr),
    )
    .unwrap();
    let vifs: Vec<String> = c.vips.iter().map(|v| format!("  e0:{v}/32")).collect();
    let conf = c.dir.join(format!("c{}.conf", i + 1));
    std::fs::write(
        &conf,
        format!(
            "Spread = {port}\nSpreadRetryInterval = 1s\nGroup = wack\nControl = {}\nMature = 1s\n\
             Balance {{\n  AcquisitionsPerRound = all\n  Interval = 4s\n}}\nArp-Cache = 30s\n\
             Prefer None\nVirtualInterfaces {{\n{}\n}}\n",
            c.dir.join(format!("c{}.ctl", i + 1)).display(),
            vifs.join("\n")
        ),
    )
    .unwrap();
    let log = std::fs::File::create(&h.log).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &h.ns.name, "unshare", "--uts", "sh", "-c"])
        .arg(format!(
            "hostname {name} && exec {} -d -c {}",
            bin.display(),
            conf.display()
        ))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the C wackamole");
    CNode {
        child,
        link,
        hosts_dir,
    }
}

/// With a silent member in the group, a group of C and Rust nodes keeps
/// waiting for its STATE (C cannot close a round, so the Rust nodes do
/// not either): sampled every 20 ms through a host's crash and well past
/// GatherTimeout, no VIP is ever on two hosts. The silent member leaves,
/// and the group settles again, every VIP once.
#[test]
fn a_mixed_group_with_a_silent_member_never_holds_a_vip_twice() {
    if thirdparty::real_prefix().is_none() || !can_run() {
        return;
    }
    let Some(bin) = c_wackamole() else {
        return;
    };
    let mut c = Cluster::new("mixed", 3, 6, "");
    c.start(0);
    c.start(1);
    let _cnode = start_c(&c, 2, &bin);
    let vips = c.vips.clone();
    c.wait_settled(&vips, &[0, 1, 2], SETTLE);
    // The C node takes part: it holds its share.
    c.wait_for("the C node to hold two VIPs", SETTLE, |c| {
        c.held(2).len() == 2
    });

    use wackamole::spread::addr::SpreadAddr;
    use wackamole::spread::client::Client;
    let addr = SpreadAddr::Unix {
        path: c.dir.join("d1.sock"),
    };
    let mut silent = Client::connect(&addr, "silent", true, Duration::from_secs(5)).unwrap();
    silent.join("wack").unwrap();
    let twice = |c: &Cluster| -> Vec<(Ipv4Addr, Vec<usize>)> {
        let holders = c.holders(&vips);
        vips.iter()
            .zip(holders)
            .filter(|(_, h)| h.len() > 1)
            .map(|(v, h)| (*v, h))
            .collect()
    };
    let watch = |c: &Cluster, silent: &mut Client, for_: Duration| {
        let end = Instant::now() + for_;
        while Instant::now() < end {
            while let Ok(Some(_)) = silent.receive() {}
            let t = twice(c);
            assert!(t.is_empty(), "a VIP on two hosts: {t:?}\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    watch(&c, &mut silent, Duration::from_secs(5));
    assert!(
        c.log(0).contains("waits for every member, as C does"),
        "{}",
        c.logs()
    );
    // A Rust host dies while the silent member holds the round open.
    c.crash_host(1);
    watch(&c, &mut silent, Duration::from_secs(5));
    // The silent member leaves: the others settle, every VIP once.
    drop(silent);
    c.wait_settled_among(&vips, &[0, 2], SETTLE);
    assert!(!c.held(2).is_empty(), "{}", c.logs());
}
