//! The `wackamole` and `wackatrl` command lines, run as real binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn wackamole(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wackamole"))
        .args(args)
        .output()
        .expect("run wackamole")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("wackamole-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let f = self.0.join(name);
        std::fs::write(&f, content).unwrap();
        f
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn an_invalid_config_exits_1_with_the_place_on_stderr() {
    let d = Scratch::new("invalid");
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
    let d = Scratch::new("relative");
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
    let d = Scratch::new("warn");
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
    let d = Scratch::new("default");
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
    let empty = Scratch::new("none");
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
    for flag in ["-c FILE", "-d", "-s SPREAD", "-u NAME", "-t", "-v"] {
        assert!(s.contains(flag), "{flag} missing from\n{s}");
    }
}

#[test]
fn s_overrides_the_config_with_a_warning() {
    let out = wackamole(&["-t", "-c", &sample(), "-s", "4804@10.0.0.1"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning: -s 4804@10.0.0.1 overrides 'Spread = 4803'"));
    assert!(text(&out.stdout).contains("Spread 4804@10.0.0.1 (tcp:10.0.0.1:4804) is used"));
    // The same address: nothing to warn about.
    let out = wackamole(&["-t", "-c", &sample(), "-s", "4803"]);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
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
    let d = Scratch::new("trl");
    let f = d.file("w.conf", "Group = g\n");
    let out = run(&["-c", f.to_str().unwrap(), "-l"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no virtual interfaces configured"));
}
