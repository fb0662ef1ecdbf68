//! The `wackamole` and `wackatrl` command lines, run as real binaries.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::scratch::{text, Scratch};

fn wackamole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wackamole"))
        .args(args)
        .output()
        .expect("run wackamole")
}

/// The identity warning `-t` gives on a machine where this node's
/// address cannot be found (no usable host name, no interface up).
const NO_IDENTITY: &str = "wackamole: warning: cannot determine this node's address: ";

/// stderr less that warning: what the rest of a test may assert on,
/// whatever the machine it runs on.
fn stderr_but_identity(o: &Output) -> String {
    text(&o.stderr)
        .lines()
        .filter(|l| !l.starts_with(NO_IDENTITY))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A scratch directory of this file's tests, removed on drop.
fn scratch(tag: &str) -> Scratch {
    Scratch::new(&format!("wackamole-cli-{tag}"))
}

fn sample() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("wackamole.conf.sample")
        .display()
        .to_string()
}

#[test]
fn check_the_sample() {
    let out = wackamole(&["-t", "-c", &sample()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains("wackamole.conf.sample: configuration is valid"),
        "{s}"
    );
    assert!(s.contains("Group                wack1"), "{s}");
    assert!(s.contains("4 VIFs, 5 addresses"), "{s}");
    assert!(s.contains("eth1:198.51.100.20/32n28"), "{s}");
    assert_eq!(stderr_but_identity(&out), "");
}

#[test]
fn an_invalid_config_exits_1_with_the_place_on_stderr() {
    let d = scratch("invalid");
    let f = d.file(
        "wackamole.conf",
        "Spread = 4803\nGroup = wack1\nVirtualInterfaces {\n  eth0:10.0.0.1/32\n  eth0:10.0.0.2/32\nNotify {\n  arp-cache\n}\n",
    );
    let out = wackamole(&["-t", "-c", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:6:1: expected '}}' to close VirtualInterfaces opened at line 3, found 'Notify'\n",
            f.display()
        )
    );
}

#[test]
fn a_relative_config_path_is_named_as_given() {
    let d = scratch("relative");
    d.file("w.conf", "Group = g\nVIFs { e:1.1.1.300/32 }\n");
    let out = Command::new(env!("CARGO_BIN_EXE_wackamole"))
        .args(["-t", "-c", "w.conf"])
        .current_dir(&d.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "w.conf:2:8: 'e:1.1.1.300/32' is not a valid address: octet 300 is out of range 0-255\n"
    );
}

#[test]
fn warnings_go_to_stderr_and_do_not_fail() {
    let d = scratch("warn");
    let f = d.file("w.conf", "Group=g\nVIFs { e:1.1.1.1/32 }\nMature = 1h\n");
    let out = wackamole(&["-t", "-c", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let e = text(&out.stderr);
    assert!(e.contains(":1:1: warning: 'Group=g' without blanks"), "{e}");
    assert!(e.contains(":3:10: warning: '1h' is read as hours"), "{e}");
    assert!(text(&out.stdout).contains("Mature               1h"));
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = wackamole(&["-t", "-c", "/nonexistent/wackamole.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("/nonexistent/wackamole.conf: cannot read: "));
}

#[test]
fn without_c_the_config_is_looked_up_in_the_working_directory() {
    let d = scratch("default");
    d.file("wackamole.conf", "Group = here\nVIFs { e:1.1.1.1/32 }\n");
    let out = Command::new(env!("CARGO_BIN_EXE_wackamole"))
        .arg("-t")
        .current_dir(&d.0)
        .output()
        .unwrap();
    // SYSCONFDIR/wackamole.conf comes first; on a machine without one,
    // ./wackamole.conf is used.
    let sys = Path::new(wackamole::config::SYSCONFDIR).join("wackamole.conf");
    let names_sys = |o: &Output| {
        let s = sys.display().to_string();
        text(&o.stdout).starts_with(&s) || text(&o.stderr).starts_with(&s)
    };
    if sys.exists() {
        assert!(names_sys(&out), "{} was not used", sys.display());
    } else {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Group                here"));
    }
    let empty = scratch("none");
    let out = Command::new(env!("CARGO_BIN_EXE_wackamole"))
        .arg("-t")
        .current_dir(&empty.0)
        .output()
        .unwrap();
    if sys.exists() {
        assert!(names_sys(&out), "{} was not used", sys.display());
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "wackamole: no configuration file found (tried {}, ./wackamole.conf); give one with -c FILE\n",
                sys.display()
            )
        );
    }
}

#[test]
fn unknown_flags_print_usage_and_exit_2() {
    for args in [&["-x"][..], &["--frobnicate"], &["-t", "extra"], &["-c"]] {
        let out = wackamole(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("Usage: wackamole"), "{args:?}");
    }
}

#[test]
fn version_and_help() {
    let out = wackamole(&["-v"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("wackamole "));
    assert!(text(&out.stdout).contains("2.1.4"));
    let out = wackamole(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    for flag in [
        "-a ADDRESS",
        "-c FILE",
        "-d",
        "-s SPREAD",
        "-u NAME",
        "-t",
        "-v",
    ] {
        assert!(s.contains(flag), "{flag} missing from\n{s}");
    }
}

/// `-v` names the membership backends built in, and a config naming one
/// that is not is refused with the same list, at its place.
#[test]
fn membership_backends_are_listed_and_a_missing_one_refused() {
    let out = wackamole(&["-v"]);
    let built = if cfg!(feature = "corosync") {
        "spread, corosync"
    } else {
        "spread"
    };
    assert!(
        text(&out.stdout).contains(&format!("membership backends: {built}\n")),
        "{}",
        text(&out.stdout)
    );
    let d = scratch("membership");
    let f = d.file(
        "wackamole.conf",
        "Membership = corosync\nGroup = wack\nVirtualInterfaces {\n  eth0:10.0.0.1/32\n}\n",
    );
    let out = wackamole(&["-t", "-c", f.to_str().unwrap()]);
    if cfg!(feature = "corosync") {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Membership           corosync"));
        assert!(!text(&out.stdout).contains("  Spread "));
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "{}:1:14: Membership = corosync: this wackamole was built without the corosync \
                 backend (membership backends: spread); build it with `make FEATURES=corosync`\n",
                f.display()
            )
        );
    }
    let f = d.file(
        "bad.conf",
        "Group = wack\nMembership = zookeeper\nVirtualInterfaces {\n  eth0:10.0.0.1/32\n}\n",
    );
    let out = wackamole(&["-t", "-c", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:2:14: Membership must be spread or corosync, not 'zookeeper'\n",
            f.display()
        )
    );
}

#[test]
fn s_overrides_the_config_with_a_warning() {
    let out = wackamole(&["-t", "-c", &sample(), "-s", "4804@10.0.0.1"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning: -s 4804@10.0.0.1 overrides 'Spread = 4803'"));
    assert!(text(&out.stdout).contains("Spread 4804@10.0.0.1 (tcp:10.0.0.1:4804) is used"));
    // The same address: nothing to warn about.
    let out = wackamole(&["-t", "-c", &sample(), "-s", "4803"]);
    assert_eq!(stderr_but_identity(&out), "");
    let out = wackamole(&["-t", "-c", &sample(), "-s", "notaport"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("-s: 'notaport' is not a port number"));
}

#[test]
fn u_takes_a_spread_private_name() {
    let out = wackamole(&["-t", "-c", &sample(), "-u", "node1"]);
    assert_eq!(out.status.code(), Some(0));
    let out = wackamole(&["-t", "-c", &sample(), "-u", "elevenbytes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("1 to 10 bytes"));
}

#[test]
fn wackatrl_flags() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wackatrl"))
            .args(args)
            .output()
            .unwrap()
    };
    // Exactly one request.
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["-l", "-f"]).status.code(), Some(2));
    assert_eq!(run(&["-x"]).status.code(), Some(2));
    assert_eq!(run(&["-h"]).status.code(), Some(0));
    // A bad config is reported as by wackamole.
    let d = scratch("trl");
    let f = d.file("w.conf", "Group = g\n");
    let out = run(&["-c", f.to_str().unwrap(), "-l"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no virtual interfaces configured"));
}

/// The `NodeAddress` line of a `-t` summary.
fn node_line(o: &Output) -> String {
    let s = text(&o.stdout);
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with("  NodeAddress "))
        .collect();
    assert_eq!(lines.len(), 1, "{s}");
    lines[0].to_string()
}

#[test]
fn t_shows_the_identity_and_where_it_comes_from() {
    let out = wackamole(&["-t", "-c", &sample()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = node_line(&out);
    // Whatever this machine is: an address and its rule, or a warning
    // (and still exit 0: the file is valid).
    if text(&out.stderr).contains(NO_IDENTITY) {
        assert_eq!(
            line,
            "  NodeAddress          (cannot be determined: see the warning)"
        );
        assert!(text(&out.stderr).contains(
            "set it with 'NodeAddress = a.b.c.d' in the configuration or with -a ADDRESS"
        ));
    } else {
        let rest = line.trim_start_matches("  NodeAddress          ");
        let (addr, source) = rest.split_once(' ').unwrap();
        let addr: std::net::Ipv4Addr = addr.parse().expect(&line);
        assert!(!addr.is_loopback(), "{line}");
        assert!(
            source.starts_with("(host name ") || source.starts_with("(first address of "),
            "{line}"
        );
    }
}

#[test]
fn a_sets_the_identity() {
    let out = wackamole(&["-t", "-c", &sample(), "-a", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        node_line(&out),
        "  NodeAddress          192.0.2.1 (from -a)"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn node_address_sets_the_identity_and_a_overrides_it_with_a_warning() {
    let d = scratch("node");
    let f = d.file(
        "w.conf",
        "Group = g\nNodeAddress = 192.0.2.2\nVIFs { e:1.1.1.1/32 }\n",
    );
    let f = f.to_str().unwrap();
    let out = wackamole(&["-t", "-c", f]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        node_line(&out),
        "  NodeAddress          192.0.2.2 (from NodeAddress)"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    let out = wackamole(&["-t", "-c", f, "-a", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        node_line(&out),
        "  NodeAddress          192.0.2.1 (from -a)"
    );
    assert_eq!(
        text(&out.stderr),
        format!("wackamole: warning: -a 192.0.2.1 overrides 'NodeAddress = 192.0.2.2' of {f}\n")
    );
    // The same address: nothing to warn about.
    let out = wackamole(&["-t", "-c", f, "-a", "192.0.2.2"]);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn a_invalid_exits_2_with_the_reason() {
    for (arg, reason) in [
        (
            "127.0.1.1",
            "a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node",
        ),
        ("tb1", "expected a dotted IPv4 address such as 192.0.2.1"),
        ("224.0.0.1", "a multicast address (224.0.0.0/4) cannot identify a node"),
        (
            "192.0.2.1/24",
            "a node address is a bare IPv4 address, without interface name or /PREFIX: write 192.0.2.1",
        ),
    ] {
        let out = wackamole(&["-t", "-c", &sample(), "-a", arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(out.stdout.is_empty());
        assert_eq!(
            text(&out.stderr),
            format!("wackamole: -a: invalid address '{arg}': {reason}\n")
        );
    }
    // Checked before the config is read.
    let out = wackamole(&["-t", "-c", "/nonexistent/w.conf", "-a", "0.0.0.0"]);
    assert_eq!(out.status.code(), Some(2));
    // -a needs its argument.
    let out = wackamole(&["-a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage: wackamole [-a ADDRESS]"));
}

#[test]
fn a_bad_node_address_in_the_file_exits_1_with_the_place() {
    let d = scratch("badnode");
    let f = d.file(
        "w.conf",
        "Group = g\nNodeAddress = 127.0.1.1\nVIFs { e:1.1.1.1/32 }\n",
    );
    let out = wackamole(&["-t", "-c", f.to_str().unwrap(), "-a", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}:2:15: invalid NodeAddress '127.0.1.1': a loopback address (127.0.0.0/8) is the same on every host and cannot identify a node\n",
            f.display()
        )
    );
}

/// In a network namespace of its own (`unshare -n`, where the machine
/// allows it) a host has only `lo`, down: no identity can be found.
#[test]
fn without_any_address_t_warns_but_passes() {
    let unshare = |args: &[&str]| {
        Command::new("unshare")
            .arg("-n")
            .arg(env!("CARGO_BIN_EXE_wackamole"))
            .args(args)
            .output()
    };
    match Command::new("unshare").args(["-n", "true"]).output() {
        Ok(o) if o.status.success() => {}
        _ => {
            eprintln!("skipped: 'unshare -n' is not allowed here");
            return;
        }
    }
    let out = unshare(&["-t", "-c", &sample()]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        node_line(&out),
        "  NodeAddress          (cannot be determined: see the warning)"
    );
    let e = text(&out.stderr);
    assert!(e.starts_with(NO_IDENTITY), "{e}");
    assert!(
        e.ends_with(", and no interface that is up has a non-loopback IPv4 address; set it with 'NodeAddress = a.b.c.d' in the configuration or with -a ADDRESS\n"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    // An explicit address needs nothing from the system.
    let out = unshare(&["-t", "-c", &sample(), "-a", "192.0.2.1"]).unwrap();
    assert_eq!(
        node_line(&out),
        "  NodeAddress          192.0.2.1 (from -a)"
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn t_checks_the_shared_secret_file_and_never_shows_a_key() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("secret");
    let key = d.file("wackamole.key", "the key of this cluster\n");
    let conf = d.file(
        "wackamole.conf",
        "Group = wack1\nNodeAddress = 192.0.2.1\nVirtualInterfaces { eth0:10.0.0.1/32 }\nSharedSecretFile = wackamole.key\n",
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = wackamole(&["-t", "-c", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}: the shared secret must", key.display())),
        "{err}"
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = wackamole(&["-t", "-c", conf.to_str().unwrap()]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    if nix::unistd::geteuid().is_root() {
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("SharedSecretFile"), "{all}");
    }
    assert!(!all.contains("the key of this cluster"), "{all}");
}
