//! Hooks run for real: a shared object built here with the system C
//! compiler and called through the runner child with C's ABI, crashing
//! and hanging modules contained, a module others can write refused,
//! RunScript's environment, and Perl subs (when perl is installed).

mod common;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::scratch::{read, write_file};
use wackamole::config::{self, HookEvent};
use wackamole::hooks::{Finished, HookVif, Hooks, Outcome};

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(300);

/// The shared directory of this run, in `HOOKS_TEST_DIR` (which the
/// children inherit); set before any test starts a child. It lives in
/// Cargo's scratch directory; those of runs that are over are removed.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("hooks-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let d = tmp.join(format!("hooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::env::set_var("HOOKS_TEST_DIR", &d);
        // A stale value a hook must never see.
        std::env::set_var("WACKAMOLE_VIP", "203.0.113.99");
        d
    })
}

const MODULE_C: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

/* As in wackamole 2.1.4's defines.h. */
struct interface {
  char ifname[IFNAMSIZ];
  struct in_addr ipaddr;
  struct in_addr bcast;
  struct in_addr netmask;
  struct in_addr network;
  unsigned char mac[6];
};

static void put(FILE *f, const char *what, const struct interface *i) {
  char a[4][INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &i->ipaddr, a[0], sizeof a[0]);
  inet_ntop(AF_INET, &i->bcast, a[1], sizeof a[1]);
  inet_ntop(AF_INET, &i->netmask, a[2], sizeof a[2]);
  inet_ntop(AF_INET, &i->network, a[3], sizeof a[3]);
  fprintf(f, "%s %s %s %s %s %s\n", what, i->ifname[0] ? i->ifname : "-",
          a[0], a[1], a[2], a[3]);
}

int record(struct interface master, struct interface *extras,
           struct interface owner) {
  char path[4096];
  int n;
  snprintf(path, sizeof path, "%s/c-%s.out", getenv("HOOKS_TEST_DIR"),
           inet_ntoa(master.ipaddr));
  FILE *f = fopen(path, "w");
  if (!f) return 99;
  fprintf(f, "sizeof %zu ipaddr %zu mac %zu\n", sizeof(struct interface),
          offsetof(struct interface, ipaddr), offsetof(struct interface, mac));
  put(f, "master", &master);
  for (n = 0; n < 30 && extras[n].ipaddr.s_addr != 0; n++)
    put(f, "extra", &extras[n]);
  put(f, "owner", &owner);
  fclose(f);
  fprintf(stderr, "recorded %d extras\n", n);
  return 7;
}

int big(struct interface m, struct interface *e, struct interface o) { return 300; }
int negative(struct interface m, struct interface *e, struct interface o) { return -5; }

int crash(struct interface m, struct interface *e, struct interface o) {
  volatile int *p = NULL;
  *p = 1;
  return 0;
}

int hang(struct interface m, struct interface *e, struct interface o) {
  for (;;) sleep(1);
  return 0;
}
"#;

/// `DIR/mods/hooktest.so` (the config names it `hooktest`, so the
/// runner's `.so` fallback is used), or `None` without a C compiler.
fn module_dir() -> Option<&'static Path> {
    static MODS: OnceLock<Option<PathBuf>> = OnceLock::new();
    MODS.get_or_init(|| {
        let mods = dir().join("mods");
        std::fs::create_dir_all(&mods).unwrap();
        let src = mods.join("hooktest.c");
        std::fs::write(&src, MODULE_C).unwrap();
        let so = mods.join("hooktest.so");
        let out = Command::new("cc")
            .args(["-shared", "-fPIC", "-O0", "-o"])
            .arg(&so)
            .arg(&src)
            .output();
        match out {
            Err(e) => {
                eprintln!("SKIPPED: no C compiler (cc: {e})");
                None
            }
            Ok(o) if !o.status.success() => {
                panic!("cc failed:\n{}", String::from_utf8_lossy(&o.stderr))
            }
            Ok(_) => {
                // Whatever the umask: only root may write it.
                std::fs::set_permissions(&so, std::fs::Permissions::from_mode(0o755)).unwrap();
                Some(mods)
            }
        }
    })
    .as_deref()
}

/// A config with one grouped VIF and `extra` (hook lines).
fn config(extra: &str) -> config::Config {
    let text = format!(
        "Group = g\nVIFs {{\n  {{ eth0:192.0.2.10/24 eth1:198.51.100.7/32n16 }}\n  eth0:192.0.2.20/32\n}}\n{extra}"
    );
    match config::parse(&text, &dir().join("t.conf")) {
        Ok(l) => l.config,
        Err(e) => panic!("{}", e.lines().join("\n")),
    }
}

fn hooks_of(c: &config::Config, limit: Duration) -> Hooks {
    let mut h = Hooks::new(c.hooks(), c.perl_use_lib(), c.perl_use(), limit);
    h.set_runner(env!("CARGO_BIN_EXE_wackamole"));
    h
}

fn vif(c: &config::Config, n: usize) -> HookVif {
    HookVif::new(&c.vifs()[n], Some(Ipv4Addr::new(10, 0, 0, 2)))
}

/// Polls as a daemon would, until every child is reaped (at most
/// `max`).
fn wait_all(h: &mut Hooks, max: Duration) -> Vec<Finished> {
    let start = Instant::now();
    let mut out = Vec::new();
    while h.running() > 0 {
        assert!(start.elapsed() < max, "hooks still running after {max:?}");
        let next = h.next_deadline().expect("a deadline while children run");
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        out.extend(h.reap(Instant::now()));
    }
    assert_eq!(h.next_deadline(), None);
    out
}

#[test]
fn a_shared_object_gets_the_c_arguments() {
    let Some(mods) = module_dir() else { return };
    let c = config(&format!(
        "ModuleDir = \"{}\"\nRunDynamic hooktest:record on up\nRunDynamic hooktest:big on down\nRunDynamic hooktest:negative on down\nRunDynamic hooktest:record post up\n",
        mods.display()
    ));
    let mut h = hooks_of(&c, LONG);
    assert_eq!(h.next_deadline(), None);
    assert!(h
        .fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now())
        .is_empty());
    assert_eq!(h.running(), 1);
    assert!(h.next_deadline().is_some());
    let done = wait_all(&mut h, LONG);
    assert_eq!(done.len(), 1);
    let f = &done[0];
    assert_eq!(f.outcome, Outcome::Exited(7), "{f}");
    assert_eq!(f.hook, "RunDynamic hooktest:record");
    assert_eq!(f.vip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(f.stderr, "recorded 1 extras\n");
    assert_eq!(
        read(dir().join("c-192.0.2.10.out")),
        "sizeof 40 ipaddr 16 mac 32\n\
         master eth0 192.0.2.10 192.0.2.255 255.255.255.0 255.255.255.0\n\
         extra eth1 198.51.100.7 198.51.100.7 255.255.255.255 255.255.0.0\n\
         owner - 10.0.0.2 0.0.0.0 0.0.0.0 0.0.0.0\n"
    );

    // Return values past 0-255 are clamped into the exit status.
    assert!(h
        .fire(HookEvent::OnDown, Some(&vif(&c, 1)), Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    let outcomes: Vec<&Outcome> = done.iter().map(|f| &f.outcome).collect();
    assert_eq!(outcomes, [&Outcome::Exited(255), &Outcome::Exited(0)]);

    // post up: all-zero records, whatever VIF is given.
    assert!(h
        .fire(HookEvent::PostUp, Some(&vif(&c, 1)), Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    assert_eq!(done[0].outcome, Outcome::Exited(7));
    assert_eq!(done[0].vip, None);
    assert_eq!(
        read(dir().join("c-0.0.0.0.out")),
        "sizeof 40 ipaddr 16 mac 32\n\
         master - 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0\n\
         owner - 0.0.0.0 0.0.0.0 0.0.0.0 0.0.0.0\n"
    );
}

#[test]
fn a_crashing_or_hanging_module_is_contained() {
    let Some(mods) = module_dir() else { return };
    let c = config(&format!(
        "ModuleDir = \"{}\"\nRunDynamic hooktest:hang on up\nRunDynamic hooktest:crash on up\n",
        mods.display()
    ));
    let mut h = hooks_of(&c, SHORT);
    let start = Instant::now();
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), start).is_empty());
    assert!(start.elapsed() < SHORT, "fire must not wait for the hooks");
    assert_eq!(h.running(), 2);
    let mut done = wait_all(&mut h, LONG);
    let took = start.elapsed();
    done.sort_by_key(|f| f.hook.clone());
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].hook, "RunDynamic hooktest:crash");
    assert_eq!(
        done[0].outcome,
        Outcome::Signaled(libc::SIGSEGV),
        "{}",
        done[0]
    );
    assert_eq!(done[1].hook, "RunDynamic hooktest:hang");
    assert_eq!(done[1].outcome, Outcome::TimedOut(SHORT), "{}", done[1]);
    assert!(took >= SHORT && took < SHORT * 10, "{took:?}");
    assert!(done[1]
        .to_string()
        .contains("still running after 300 ms: killed"));
    // Reaped: no zombie left behind.
    assert!(!Path::new(&format!("/proc/{}", done[1].pid)).exists());
}

#[test]
fn a_module_others_can_write_is_refused() {
    let Some(mods) = module_dir() else { return };
    let bad = mods.join("open.so");
    std::fs::copy(mods.join("hooktest.so"), &bad).unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o777)).unwrap();
    let c = config(&format!(
        "ModuleDir = \"{}\"\nRunDynamic open:record on up\nRunDynamic absent:record on up\nRunDynamic hooktest:nosuch on up\n",
        mods.display()
    ));
    let mut h = hooks_of(&c, LONG);
    assert!(h
        .fire(HookEvent::OnUp, Some(&vif(&c, 1)), Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    let why: Vec<String> = done
        .iter()
        .map(|f| match &f.outcome {
            Outcome::Failed(why) => why.clone(),
            o => panic!("{}: {o}", f.hook),
        })
        .collect();
    assert_eq!(
        why[0],
        format!(
            "refusing {}: it is writable by everyone (mode 777); chmod go-w it",
            bad.display()
        )
    );
    assert_eq!(
        why[1],
        format!("no module {0}/absent (nor {0}/absent.so)", mods.display())
    );
    assert!(
        why[2].starts_with(&format!(
            "{}/hooktest.so has no function nosuch: ",
            mods.display()
        )),
        "{}",
        why[2]
    );
    // Never called: nothing recorded for that VIF.
    assert!(!dir().join("c-192.0.2.20.out").exists());
    assert!(done[0].to_string().contains("not called: refusing"));
}

#[test]
fn scripts_get_the_vif_in_their_environment() {
    let d = dir().join("scripts");
    std::fs::create_dir_all(&d).unwrap();
    let script = d.join("env-hook");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\nenv | grep '^WACKAMOLE_' | sort > \"{}/env.$(echo \"$WACKAMOLE_EVENT\" | tr ' ' _)\"\necho \"args: $#\" >&2\nexit 3\n",
            d.display()
        ),
        0o755,
    );
    let open = d.join("open-hook");
    write_file(&open, "#!/bin/sh\nexit 0\n", 0o777);
    let c = config(&format!(
        "RunScript {0} on up\nRunScript {0} post down\nRunScript {1} on up\nRunScript {2}/absent on up\n",
        script.display(),
        open.display(),
        d.display()
    ));
    let mut h = hooks_of(&c, LONG);
    let errors = h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now());
    let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        errors,
        [
            format!(
                "RunScript {} (on up 192.0.2.10): not started: refusing {}: it is writable by everyone (mode 777); chmod go-w it",
                open.display(),
                open.display()
            ),
            format!(
                "RunScript {0}/absent (on up 192.0.2.10): not started: {0}/absent: No such file or directory (os error 2)",
                d.display()
            ),
        ]
    );
    let done = wait_all(&mut h, LONG);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::Exited(3));
    assert_eq!(done[0].stderr, "args: 0\n");
    assert_eq!(
        read(d.join("env.on_up")),
        "WACKAMOLE_ADDRESSES=eth0:192.0.2.10/24 eth1:198.51.100.7/32\n\
         WACKAMOLE_EVENT=on up\n\
         WACKAMOLE_IFNAME=eth0\n\
         WACKAMOLE_OWNER=10.0.0.2\n\
         WACKAMOLE_PREFIX=24\n\
         WACKAMOLE_VIP=192.0.2.10\n"
    );
    assert!(h.fire(HookEvent::PostDown, None, Instant::now()).is_empty());
    wait_all(&mut h, LONG);
    assert_eq!(read(d.join("env.post_down")), "WACKAMOLE_EVENT=post down\n");
}

#[test]
fn a_hanging_script_is_killed_with_what_it_started() {
    let d = dir().join("hang");
    std::fs::create_dir_all(&d).unwrap();
    let script = d.join("sleeper");
    let pidfile = d.join("sleep.pid");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\nsleep 30 &\necho $! > \"{}\"\nwait\n",
            pidfile.display()
        ),
        0o755,
    );
    let c = config(&format!("RunScript {} on down\n", script.display()));
    let mut h = hooks_of(&c, SHORT);
    assert!(h
        .fire(HookEvent::OnDown, Some(&vif(&c, 0)), Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    assert_eq!(done[0].outcome, Outcome::TimedOut(SHORT));
    // The background `sleep` went with it (gone, or a zombie of init).
    let pid = read(&pidfile).trim().to_string();
    let start = Instant::now();
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let alive = state.is_some_and(|s| {
            let after = s.rsplit(')').next().unwrap_or("");
            !after.trim_start().starts_with('Z')
        });
        if !alive {
            break;
        }
        assert!(start.elapsed() < LONG, "sleep {pid} survived its hook");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn have_perl() -> bool {
    let ok = Command::new("perl")
        .arg("-e1")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: no perl");
    }
    ok
}

#[test]
fn perl_subs_get_three_references() {
    if !have_perl() {
        return;
    }
    let lib = dir().join("perl");
    std::fs::create_dir_all(&lib).unwrap();
    write_file(
        &lib.join("HookTest.pm"),
        r#"package HookTest;
use strict;
sub line { my ($what, $h) = @_; join(' ', $what, map { $h->{$_} eq '' ? '-' : $h->{$_} } qw(ifname ip broadcast netmask)) . "\n" }
sub record {
    my ($m, $e, $o) = @_;
    open(my $f, '>', "$ENV{HOOKS_TEST_DIR}/perl-$m->{ip}.out") or die "open: $!";
    print $f line('master', $m);
    print $f line('extra', $_) for @$e;
    print $f line('owner', $o);
    close $f;
    return 5;
}
sub fail { die "no luck\n" }
1;
"#,
        0o644,
    );
    let c = config(&format!(
        "PerlUseLib \"{}\"\nPerlUse HookTest\nPerlUse strict\nRunDynamic HookTest::record on up\nRunDynamic HookTest::fail on up\nRunDynamic HookTest::record post down\n",
        lib.display()
    ));
    let mut h = hooks_of(&c, LONG);
    assert!(h
        .fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    assert_eq!(done[0].outcome, Outcome::Exited(5), "{}", done[0]);
    assert_eq!(done[1].outcome, Outcome::Exited(255), "{}", done[1]);
    assert_eq!(done[1].stderr, "no luck\n");
    assert_eq!(
        read(dir().join("perl-192.0.2.10.out")),
        "master eth0 192.0.2.10 192.0.2.255 255.255.255.0\n\
         extra eth1 198.51.100.7 198.51.100.7 255.255.255.255\n\
         owner - 10.0.0.2 0.0.0.0 0.0.0.0\n"
    );
    assert!(h.fire(HookEvent::PostDown, None, Instant::now()).is_empty());
    assert_eq!(wait_all(&mut h, LONG)[0].outcome, Outcome::Exited(5));
    assert_eq!(
        read(dir().join("perl-0.0.0.0.out")),
        "master - 0.0.0.0 0.0.0.0 0.0.0.0\nowner - 0.0.0.0 0.0.0.0 0.0.0.0\n"
    );
}

#[test]
fn without_perl_a_perl_hook_fails_to_start() {
    dir();
    let c = config("RunDynamic HookTest::record on up\n");
    let mut h = hooks_of(&c, LONG);
    h.set_perl("/nonexistent/bin/perl");
    let errors = h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now());
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "RunDynamic HookTest::record (on up 192.0.2.10): not started: cannot run /nonexistent/bin/perl: No such file or directory (os error 2); Perl hooks need perl installed"
    );
    assert_eq!(h.running(), 0);
    assert_eq!(h.next_deadline(), None);
}
