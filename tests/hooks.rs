//! Hooks run for real: a shared object built here with the system C
//! compiler and called through the runner child with C's ABI, crashing
//! and hanging modules contained, a module others can write refused,
//! RunScript's environment, and Perl subs (when perl is installed).
//! Then the daemon itself: one VIF's hooks in order, at most HookLimit
//! at once, nothing of the daemon's environment, perl from PerlPath.

mod common;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::cluster::{Cluster, Conf};
use common::netns::can_run;
use common::scratch::{read, write_file};
use wackamole::config::{self, HookEvent};
use wackamole::hooks::{Finished, HookVif, Hooks, Outcome, SpawnError, HOOK_PATH};

const LONG: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(300);

/// The shared directory of this run. It lives in Cargo's scratch
/// directory; those of runs that are over are removed. Hooks get a
/// clean environment, so the modules and subs that write there have it
/// built in.
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
        // What a hook must never see: the test's environment stands for
        // the daemon's.
        std::env::set_var("HOOKS_TEST_DIR", &d);
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
  snprintf(path, sizeof path, "%s/c-%s.out", OUT_DIR, inet_ntoa(master.ipaddr));
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
            .arg(format!("-DOUT_DIR=\"{}\"", dir().display()))
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
    let mut h = Hooks::new(c, limit);
    h.set_runner(env!("CARGO_BIN_EXE_wackamole"));
    h
}

fn vif(c: &config::Config, n: usize) -> HookVif {
    HookVif::new(&c.vifs()[n], Some(Ipv4Addr::new(10, 0, 0, 2)))
}

/// Polls as a daemon would, until every child is reaped and no hook
/// waits (at most `max`): the hooks that ended, and the errors of the
/// waiting ones that could not start when their turn came.
fn run_all(h: &mut Hooks, max: Duration) -> (Vec<Finished>, Vec<String>) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    while h.running() > 0 {
        assert!(start.elapsed() < max, "hooks still running after {max:?}");
        let next = h.next_deadline().expect("a deadline while children run");
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        let reaped = h.reap(Instant::now());
        errors.extend(reaped.not_started.iter().map(|e| e.to_string()));
        out.extend(reaped.finished);
    }
    assert_eq!(h.waiting(), 0, "hooks wait while none runs");
    assert_eq!(h.next_deadline(), None);
    (out, errors)
}

/// [`run_all`] when every hook starts.
fn wait_all(h: &mut Hooks, max: Duration) -> Vec<Finished> {
    let (done, errors) = run_all(h, max);
    assert!(errors.is_empty(), "{errors:?}");
    done
}

fn strings(errors: &[SpawnError]) -> Vec<String> {
    errors.iter().map(|e| e.to_string()).collect()
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
        "ModuleDir = \"{}\"\nRunDynamic hooktest:hang on up\nRunDynamic hooktest:crash on down\n",
        mods.display()
    ));
    let mut h = hooks_of(&c, SHORT);
    let start = Instant::now();
    // Two VIFs: their hooks run side by side.
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), start).is_empty());
    assert!(h
        .fire(HookEvent::OnDown, Some(&vif(&c, 1)), start)
        .is_empty());
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
            "#!/bin/sh\nenv | grep '^WACKAMOLE_' | sort > \"{0}/env.$(echo \"$WACKAMOLE_EVENT\" | tr ' ' _)\"\nenv > \"{0}/all.$(echo \"$WACKAMOLE_EVENT\" | tr ' ' _)\"\necho \"args: $#\" >&2\nexit 3\n",
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
    // The first starts at once; the others of that VIF wait for it, and
    // are refused when their turn comes.
    let fired = h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now());
    assert!(fired.is_empty(), "{:?}", strings(&fired));
    let (done, errors) = run_all(&mut h, LONG);
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
    // Nothing of the test's (standing for the daemon's) environment.
    let all = read(d.join("all.on_up"));
    assert!(
        all.lines().any(|l| l == format!("PATH={HOOK_PATH}")),
        "{all}"
    );
    assert!(!all.contains("HOOKS_TEST_DIR"), "{all}");
    assert!(h.fire(HookEvent::PostDown, None, Instant::now()).is_empty());
    wait_all(&mut h, LONG);
    assert_eq!(read(d.join("env.post_down")), "WACKAMOLE_EVENT=post down\n");
    let all = read(d.join("all.post_down"));
    assert!(!all.contains("WACKAMOLE_VIP"), "a stale value: {all}");
}

/// `check down` and `check up` hooks: a `RunScript` learns the event
/// and the check's program, nothing of any VIF; a `RunDynamic` function
/// is called with all-zero records, as for `post` events.
#[test]
fn check_hooks_get_the_event_and_the_check() {
    let d = dir().join("check-hooks");
    std::fs::create_dir_all(&d).unwrap();
    let script = d.join("page");
    write_file(
        &script,
        &format!(
            "#!/bin/sh
env | grep '^WACKAMOLE_' | sort > \"{0}/env.$(echo \"$WACKAMOLE_EVENT\" | tr ' ' _)\"\n",
            d.display()
        ),
        0o755,
    );
    let c = config(&format!(
        "Check {{ Run = /usr/local/sbin/check-web }}\nRunScript {0} check down\nRunScript {0} check up\n",
        script.display()
    ));
    let mut h = hooks_of(&c, LONG);
    let web = Path::new("/usr/local/sbin/check-web");
    assert!(h
        .fire_check(HookEvent::CheckDown, web, Instant::now())
        .is_empty());
    let done = wait_all(&mut h, LONG);
    assert_eq!(done.len(), 1, "only the check down hook");
    assert_eq!(done[0].outcome, Outcome::Exited(0), "{}", done[0]);
    assert_eq!(
        done[0].to_string(),
        format!(
            "RunScript {} (check down /usr/local/sbin/check-web): exit status 0 after {} ms",
            script.display(),
            done[0].elapsed.as_millis()
        )
    );
    assert_eq!(
        read(d.join("env.check_down")),
        "WACKAMOLE_CHECK=/usr/local/sbin/check-web\nWACKAMOLE_EVENT=check down\n"
    );
    assert!(h
        .fire_check(HookEvent::CheckUp, web, Instant::now())
        .is_empty());
    wait_all(&mut h, LONG);
    assert_eq!(
        read(d.join("env.check_up")),
        "WACKAMOLE_CHECK=/usr/local/sbin/check-web\nWACKAMOLE_EVENT=check up\n"
    );
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

/// The perl on this machine (as `command -v perl` finds it), or `None`
/// after saying that the test is skipped.
fn perl() -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", "command -v perl"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| p.starts_with('/'));
    if found.is_none() {
        eprintln!("SKIPPED: no perl on this machine");
    }
    found.map(PathBuf::from)
}

/// A directory only root may write (whatever the umask).
fn private_dir(name: &str) -> PathBuf {
    let d = dir().join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

#[test]
fn perl_subs_get_three_references() {
    let Some(perl) = perl() else { return };
    let lib = private_dir("perl");
    write_file(
        &lib.join("HookTest.pm"),
        &r#"package HookTest;
use strict;
sub line { my ($what, $h) = @_; join(' ', $what, map { $h->{$_} eq '' ? '-' : $h->{$_} } qw(ifname ip broadcast netmask)) . "\n" }
sub record {
    my ($m, $e, $o) = @_;
    open(my $f, '>', "@DIR@/perl-$m->{ip}.out") or die "open: $!";
    print $f line('master', $m);
    print $f line('extra', $_) for @$e;
    print $f line('owner', $o);
    close $f;
    return 5;
}
sub fail { die "no luck\n" }
1;
"#
        .replace("@DIR@", &dir().display().to_string()),
        0o644,
    );
    let c = config(&format!(
        "PerlPath = {}\nPerlUseLib \"{}\"\nPerlUse HookTest\nPerlUse strict\nRunDynamic HookTest::record on up\nRunDynamic HookTest::fail on up\nRunDynamic HookTest::record post down\n",
        perl.display(),
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
    let c = config("PerlPath = /nonexistent/bin/perl\nRunDynamic HookTest::record on up\n");
    let mut h = hooks_of(&c, LONG);
    let errors = h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now());
    assert_eq!(
        strings(&errors),
        ["RunDynamic HookTest::record (on up 192.0.2.10): not started: cannot run /nonexistent/bin/perl: No such file or directory (os error 2); Perl hooks need perl installed, at PerlPath"]
    );
    assert_eq!(h.running(), 0);
    assert_eq!(h.next_deadline(), None);
}

/// Whoever could change the interpreter or a library directory would
/// run code as root at the next Perl hook: refused, when the hook would
/// run. No perl needed: a stand-in that must never start.
#[test]
fn perl_or_its_library_others_can_write_is_refused() {
    let d = private_dir("perl-refused");
    let ran = d.join("ran");
    let fake = d.join("perl");
    write_file(
        &fake,
        &format!("#!/bin/sh\necho \"$@\" >> \"{}\"\n", ran.display()),
        0o775,
    );
    let open_lib = private_dir("perl-refused/open-lib");
    std::fs::set_permissions(&open_lib, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let good_lib = private_dir("perl-refused/lib");
    let hook = "RunDynamic HookTest::record on up\n";
    let refusal = |cfg: String| {
        let c = config(&format!("PerlPath = {}\n{cfg}{hook}", fake.display()));
        let mut h = hooks_of(&c, LONG);
        let errors = strings(&h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now()));
        assert_eq!(h.running(), 0);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].clone()
    };
    let prefix = "RunDynamic HookTest::record (on up 192.0.2.10): not started:";
    assert_eq!(
        refusal(String::new()),
        format!(
            "{prefix} refusing PerlPath {}: it is writable by its group (mode 775); chmod go-w it",
            fake.display()
        )
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        refusal(format!(
            "PerlUseLib {}\nPerlUseLib {}\n",
            good_lib.display(),
            open_lib.display()
        )),
        format!(
            "{prefix} refusing PerlUseLib {}: it is writable by everyone (mode 1777); chmod go-w it",
            open_lib.display()
        )
    );
    assert_eq!(
        refusal(format!("PerlUseLib {}/absent\n", d.display())),
        format!(
            "{prefix} PerlUseLib {}/absent: No such file or directory (os error 2)",
            d.display()
        )
    );
    assert_eq!(
        refusal(format!("PerlUseLib {}\n", fake.display())),
        format!("{prefix} PerlUseLib {} is not a directory", fake.display())
    );
    assert!(!ran.exists(), "a refused perl ran");
    // Fixed: it runs (the stand-in exits 0).
    let c = config(&format!(
        "PerlPath = {}\nPerlUseLib {}\n{hook}",
        fake.display(),
        good_lib.display()
    ));
    let mut h = hooks_of(&c, LONG);
    assert!(h
        .fire(HookEvent::OnUp, Some(&vif(&c, 0)), Instant::now())
        .is_empty());
    assert_eq!(wait_all(&mut h, LONG)[0].outcome, Outcome::Exited(0));
    assert!(read(&ran).starts_with(&format!("-I{} -e ", good_lib.display())));
}

/// A hook script that logs its start and end to `log`, the `on down`
/// taking `slow` seconds.
fn logging_script(d: &Path, log: &Path, slow: &str) -> PathBuf {
    let script = d.join("log-hook");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\n\
             echo \"start $WACKAMOLE_EVENT $WACKAMOLE_VIP\" >> \"{0}\"\n\
             if [ \"$WACKAMOLE_EVENT\" = \"on down\" ]; then sleep {slow}; fi\n\
             echo \"end $WACKAMOLE_EVENT $WACKAMOLE_VIP\" >> \"{0}\"\n",
            log.display()
        ),
        0o755,
    );
    script
}

#[test]
fn one_vif_s_hooks_wait_for_each_other_and_the_limit_holds() {
    let d = private_dir("order");
    let log = d.join("log");
    let script = logging_script(&d, &log, "0.3");
    let c = config(&format!(
        "HookLimit = 2\nRunScript {0} on down\nRunScript {0} on up\n",
        script.display()
    ));
    let mut h = hooks_of(&c, LONG);
    let now = Instant::now();
    assert!(h.fire(HookEvent::OnDown, Some(&vif(&c, 0)), now).is_empty());
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), now).is_empty());
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 1)), now).is_empty());
    assert!(h.fire(HookEvent::OnDown, Some(&vif(&c, 1)), now).is_empty());
    // The down of .10 and the up of .20 run; the up of .10 waits for
    // its down, the down of .20 for a slot.
    assert_eq!((h.running(), h.waiting()), (2, 2));
    let done = wait_all(&mut h, LONG);
    assert_eq!(done.len(), 4);
    let text = read(&log);
    let at = |line: &str| {
        text.lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no {line:?} in\n{text}"))
    };
    assert!(
        at("end on down 192.0.2.10") < at("start on up 192.0.2.10"),
        "{text}"
    );
    assert!(
        at("end on up 192.0.2.20") < at("start on down 192.0.2.20"),
        "{text}"
    );
}

#[test]
fn a_reload_s_hook_limit_counts_from_the_next_start() {
    let d = private_dir("reload-limit");
    let script = d.join("nap");
    write_file(&script, "#!/bin/sh\nsleep 0.3\n", 0o755);
    let hook = format!("RunScript {} on up\n", script.display());
    let mut h = hooks_of(&config(&format!("HookLimit = 1\n{hook}")), LONG);
    let c = config(&hook);
    let now = Instant::now();
    for e in [HookEvent::OnUp, HookEvent::OnUp] {
        assert!(h.fire(e, Some(&vif(&c, 0)), now).is_empty());
        assert!(h.fire(e, Some(&vif(&c, 1)), now).is_empty());
    }
    assert_eq!((h.running(), h.waiting()), (1, 3));
    // Up to 8 (the default): the other VIF's first hook starts now; the
    // second of each VIF still waits for its first.
    assert!(h.reconfigure(&c, Instant::now()).is_empty());
    assert_eq!((h.running(), h.waiting()), (2, 2));
    assert_eq!(wait_all(&mut h, LONG).len(), 4);
}

#[test]
fn a_full_queue_drops_the_oldest_waiting_hook() {
    let d = private_dir("overflow");
    let script = d.join("wait");
    write_file(&script, "#!/bin/sh\nsleep 0.2\n", 0o755);
    let c = config(&format!(
        "HookLimit = 1\nRunScript {} on up\n",
        script.display()
    ));
    let mut h = hooks_of(&c, LONG);
    let now = Instant::now();
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), now).is_empty());
    for _ in 0..wackamole::hooks::QUEUE_CAPACITY {
        assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 1)), now).is_empty());
    }
    assert_eq!((h.running(), h.waiting()), (1, 1024));
    let errors = strings(&h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), now));
    assert_eq!(
        errors,
        [format!(
            "RunScript {} (on up 192.0.2.20): not started: dropped: 1024 hooks were waiting already (too many events at once)",
            script.display()
        )]
    );
    assert_eq!(h.waiting(), 1024);
    // A daemon that stops says what it leaves out.
    let left = strings(&h.abandon_waiting());
    assert_eq!(left.len(), 1024);
    assert!(
        left[1023]
            .ends_with("(on up 192.0.2.10): not started: the daemon stopped before it could start"),
        "{}",
        left[1023]
    );
    assert_eq!(wait_all(&mut h, LONG).len(), 1);
}

#[test]
fn a_waiting_hook_s_time_limit_runs_from_its_start() {
    let d = private_dir("limit-from-start");
    let script = d.join("nap");
    write_file(
        &script,
        "#!/bin/sh\nif [ \"$WACKAMOLE_EVENT\" = \"on down\" ]; then sleep 0.5; else sleep 0.6; fi\n",
        0o755,
    );
    let c = config(&format!(
        "RunScript {0} on down\nRunScript {0} on up\n",
        script.display()
    ));
    let limit = Duration::from_secs(1);
    let mut h = hooks_of(&c, limit);
    let now = Instant::now();
    assert!(h.fire(HookEvent::OnDown, Some(&vif(&c, 0)), now).is_empty());
    assert!(h.fire(HookEvent::OnUp, Some(&vif(&c, 0)), now).is_empty());
    let done = wait_all(&mut h, LONG);
    // The up ends more than the limit after its event, well within it
    // after its start.
    assert!(now.elapsed() > limit);
    let outcomes: Vec<&Outcome> = done.iter().map(|f| &f.outcome).collect();
    assert_eq!(outcomes, [&Outcome::Exited(0), &Outcome::Exited(0)]);
}

// ---- The daemon: order, limit, environment and perl for real -----------

/// How long a daemon may take to settle, and its hooks to run.
const SETTLE: Duration = Duration::from_secs(30);

/// Waits until `path` holds text for which `ok` is true; its text then.
/// Fails with the daemons' logs after `within`.
fn wait_text(c: &Cluster, path: &Path, within: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{}: not as expected within {within:?}:\n{text}\n{}",
            path.display(),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A reload redefines a VIF (same first address, another second one):
/// the daemon releases it (`on down`, slow here) and acquires it again
/// (`on up`, fast) in one go. The up must not start before the down
/// has ended, or a service the down stops would stay stopped while the
/// VIP is held.
#[test]
fn a_slow_on_down_ends_before_the_next_on_up_of_its_vif() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("hkord", 1, 1, "");
    let vip = c.vips[0];
    let log = c.dir.join("hooks.log");
    let script = logging_script(&c.dir.0, &log, "1");
    let extra = format!(
        "RunScript {0} on down\nRunScript {0} on up\n",
        script.display()
    );
    let conf = |second: &str| Conf {
        vifs: vec![format!("{{ e0:{vip}/32 e0:{second}/32 }}")],
        extra: &extra,
        ..Conf::default()
    };
    c.write_conf_with(0, &conf("10.80.0.201"));
    c.start(0);
    c.wait_settled(&[vip], &[0], SETTLE);
    let up_ended = format!("end on up {vip}");
    let before = wait_text(&c, &log, SETTLE, |t| t.contains(&up_ended));
    assert_eq!(before, format!("start on up {vip}\n{up_ended}\n"));

    c.write_conf_with(0, &conf("10.80.0.202"));
    c.signal(0, "HUP");
    let text = wait_text(&c, &log, SETTLE, |t| t.matches(&up_ended).count() == 2);
    assert_eq!(
        &text[before.len()..],
        format!("start on down {vip}\nend on down {vip}\nstart on up {vip}\n{up_ended}\n"),
        "{}",
        c.logs()
    );
}

/// One host acquires 300 VIFs at once: 300 `on up` hooks, never more
/// than `HookLimit` (3) running, and every one runs. Each records its
/// start and end (nanoseconds): the intervals lie within the processes'
/// lives, so their overlap cannot exceed the real one.
#[test]
fn three_hundred_vifs_moving_at_once_never_run_more_than_hook_limit() {
    if !can_run() {
        return;
    }
    const LIMIT: usize = 3;
    let mut c = Cluster::new("hkcap", 1, 0, "");
    let log = c.dir.join("hooks.log");
    let script = c.dir.join("count-hook");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\n\
             echo \"$(date +%s%N) + $WACKAMOLE_VIP\" >> \"{0}\"\n\
             sleep 0.02\n\
             echo \"$(date +%s%N) - $WACKAMOLE_VIP\" >> \"{0}\"\n",
            log.display()
        ),
        0o755,
    );
    let vifs: Vec<String> = (0..300)
        .map(|i| format!("e0:10.81.{}.{}/32", i / 200, i % 200 + 1))
        .collect();
    let extra = format!(
        "HookLimit = {LIMIT}\nRunScript {} on up\n",
        script.display()
    );
    c.write_conf_with(
        0,
        &Conf {
            vifs,
            extra: &extra,
            ..Conf::default()
        },
    );
    c.start(0);
    let text = wait_text(&c, &log, Duration::from_secs(120), |t| {
        t.lines().count() >= 600
    });
    let mut events: Vec<(u128, i32, &str)> = text
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let delta = if w[1] == "+" { 1 } else { -1 };
            (w[0].parse().expect("a timestamp"), delta, w[2])
        })
        .collect();
    // At one instant, an end before a start.
    events.sort();
    let (mut now, mut max) = (0, 0);
    for (_, d, _) in &events {
        now += d;
        max = max.max(now);
    }
    assert!(
        max <= LIMIT as i32,
        "{max} hooks ran at once, HookLimit is {LIMIT}"
    );
    let started: std::collections::BTreeSet<&str> =
        events.iter().filter(|e| e.1 == 1).map(|e| e.2).collect();
    assert_eq!(started.len(), 300, "every VIF's hook ran once");
    assert!(!c.log(0).contains("not started"), "{}", c.log(0));
}

/// The daemon runs with systemd's `NOTIFY_SOCKET` and whatever its
/// starter exported; a hook sees none of it: `PATH` and its
/// `WACKAMOLE_*` variables only.
#[test]
fn hooks_see_nothing_of_the_daemon_s_environment() {
    if !can_run() {
        return;
    }
    let mut c = Cluster::new("hkenv", 1, 1, "");
    let vip = c.vips[0];
    let out = c.dir.join("env.out");
    let script = c.dir.join("env-hook");
    write_file(
        &script,
        &format!(
            "#!/bin/sh\nenv > \"{}.tmp\"\nmv \"{0}.tmp\" \"{0}\"\n",
            out.display()
        ),
        0o755,
    );
    c.write_conf(
        0,
        &[vip],
        &format!("RunScript {} on up\n", script.display()),
    );
    let notify = c.dir.join("notify");
    let _rx = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    c.start_with_env(
        0,
        &[
            ("NOTIFY_SOCKET", notify.as_path()),
            ("WKM_TEST_MARKER", Path::new("from-the-daemon")),
            ("PERL5LIB", Path::new("/tmp/anyone")),
        ],
    );
    let env = wait_text(&c, &out, SETTLE, |t| !t.is_empty());
    let vars: Vec<&str> = env.lines().collect();
    assert!(
        vars.contains(&format!("PATH={HOOK_PATH}").as_str()),
        "{env}"
    );
    assert!(
        vars.contains(&format!("WACKAMOLE_VIP={vip}").as_str()),
        "{env}"
    );
    for leak in ["NOTIFY_SOCKET", "WKM_TEST_MARKER", "PERL5LIB"] {
        assert!(!env.contains(leak), "{leak} reached the hook:\n{env}");
    }
    // What else there is, the shell made itself (PWD, SHLVL, _).
    for v in &vars {
        let name = v.split('=').next().unwrap_or("");
        assert!(
            name == "PATH"
                || name.starts_with("WACKAMOLE_")
                || ["PWD", "SHLVL", "_"].contains(&name),
            "{v} reached the hook:\n{env}"
        );
    }
}

/// A Perl hook runs the interpreter `PerlPath` names, never one from
/// `PATH`: here a root-owned wrapper that records that it ran (and what
/// it was given) before it runs the real perl.
#[test]
fn perl_hooks_run_the_perl_path_names() {
    if !can_run() {
        return;
    }
    let Some(perl) = perl() else { return };
    let mut c = Cluster::new("hkperl", 1, 1, "");
    let vip = c.vips[0];
    let d = c.dir.0.clone();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let wrapper = d.join("perl-wrapper");
    write_file(
        &wrapper,
        &format!(
            "#!/bin/sh\nenv > \"{0}/wrapper.env\"\nexec {1} \"$@\"\n",
            d.display(),
            perl.display()
        ),
        0o755,
    );
    let lib = d.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    write_file(
        &lib.join("WkmHook.pm"),
        &format!(
            "package WkmHook;\nsub up {{ my ($m) = @_; open(my $f, '>', \"{}/perl-up.out\") or die; print $f \"$m->{{ip}}\\n\"; close $f; return 0 }}\n1;\n",
            d.display()
        ),
        0o644,
    );
    c.write_conf(
        0,
        &[vip],
        &format!(
            "PerlPath = {}\nPerlUseLib {}\nPerlUse WkmHook\nRunDynamic WkmHook::up on up\n",
            wrapper.display(),
            lib.display()
        ),
    );
    c.start(0);
    let got = wait_text(&c, &d.join("perl-up.out"), SETTLE, |t| t.ends_with('\n'));
    assert_eq!(got, format!("{vip}\n"));
    let env = std::fs::read_to_string(d.join("wrapper.env"))
        .expect("the hook ran, but not through PerlPath");
    assert!(
        env.lines().any(|l| l == format!("PATH={HOOK_PATH}")),
        "{env}"
    );
    c.wait_log(0, "RunDynamic WkmHook::up (on up", SETTLE);
    assert!(
        c.log(0).contains(&format!(
            "RunDynamic WkmHook::up (on up {vip}): exit status 0"
        )),
        "{}",
        c.log(0)
    );
}
