//! `RunDynamic Package::sub`: the command line of a child `perl` that
//! calls the sub as C's embedded interpreter did (perl.c of 2.1.4):
//! three references — a hash for the master address, an array of such
//! hashes for the extras (up to the first unused one), a hash for the
//! owner — each hash with `ifname`, `ip`, `broadcast` and `netmask`,
//! addresses in dotted form. The sub's return value, clamped to 0–255,
//! is the exit status.
//!
//! The interpreter is `PerlPath`, never looked up in `PATH`, and it and
//! every `PerlUseLib` directory must be root's (or the daemon's user's)
//! and writable by no one else: whoever can change them runs code as
//! root at the next hook.

use std::io;
use std::path::PathBuf;

use super::record::{CInterface, CallArgs};
use super::runner::Kind;
use super::{trusted, SpawnFailure};
use crate::config::Config;

/// How a configuration runs its Perl hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PerlSetup {
    /// `PerlPath`, absolute.
    pub interpreter: PathBuf,
    /// `PerlUseLib`, in file order.
    pub use_lib: Vec<String>,
    /// `PerlUse`, in file order.
    pub use_modules: Vec<String>,
}

impl PerlSetup {
    pub fn of(cfg: &Config) -> PerlSetup {
        PerlSetup {
            interpreter: cfg.perl_path().to_path_buf(),
            use_lib: cfg.perl_use_lib().to_vec(),
            use_modules: cfg.perl_use().to_vec(),
        }
    }

    /// Checked at every start, not once at load: a file that becomes
    /// writable later must not be used then either. A missing
    /// interpreter is reported as perl missing.
    pub fn check(&self, euid: u32) -> Result<(), SpawnFailure> {
        match trusted("PerlPath", Kind::File, &self.interpreter, euid) {
            Err(SpawnFailure::Unreadable { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                return Err(SpawnFailure::Run {
                    program: self.interpreter.display().to_string(),
                    perl: true,
                    source,
                })
            }
            r => r?,
        }
        for dir in &self.use_lib {
            trusted("PerlUseLib", Kind::Directory, dir.as_ref(), euid)?;
        }
        Ok(())
    }
}

/// The program run with `perl -e`. The data comes as arguments after
/// `--`: the sub's name, the number of extras, then four words (ifname,
/// ip, broadcast, netmask) for the master, the owner and each extra.
/// Symbolic references resolve a bare name in `main`, as C's
/// `call_pv` did; `no strict` because a `PerlUse strict` would
/// otherwise apply to this program too.
pub const SCRIPT: &str = r#"my ($sub, $n) = splice @ARGV, 0, 2;
my $rec = sub { my %h; @h{qw(ifname ip broadcast netmask)} = splice @ARGV, 0, 4; \%h };
my $master = $rec->();
my $owner = $rec->();
my @extras = map { $rec->() } 1 .. $n;
my $ret = do { no strict 'refs'; &{$sub}($master, \@extras, $owner) };
$ret = defined $ret ? int($ret) : 0;
exit($ret < 0 ? 0 : $ret > 255 ? 255 : $ret);
"#;

fn record_words(r: &CInterface, out: &mut Vec<String>) {
    out.push(r.name());
    out.push(r.ip().to_string());
    out.push(r.broadcast().to_string());
    out.push(r.netmask().to_string());
}

/// The arguments of `perl`: `-I` for each `PerlUseLib`, `-M` for each
/// `PerlUse` (so a module that fails to load makes the call fail, as
/// it made C's start fail), the program, then the data.
pub fn perl_args(
    use_lib: &[String],
    use_modules: &[String],
    sub: &str,
    a: &CallArgs,
) -> Vec<String> {
    let mut v: Vec<String> = use_lib.iter().map(|d| format!("-I{d}")).collect();
    v.extend(use_modules.iter().map(|m| format!("-M{m}")));
    v.push("-e".into());
    v.push(SCRIPT.into());
    v.push("--".into());
    v.push(sub.into());
    let extras: Vec<&CInterface> = a.used_extras().collect();
    v.push(extras.len().to_string());
    record_words(&a.master, &mut v);
    record_words(&a.owner, &mut v);
    for e in extras {
        record_words(e, &mut v);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IfAddr;
    use std::net::Ipv4Addr;

    #[test]
    fn the_program_reads_what_perl_args_writes() {
        // The order of the words is the program's contract.
        assert!(SCRIPT.starts_with("my ($sub, $n) = splice @ARGV, 0, 2;\n"));
        assert!(SCRIPT.contains("@h{qw(ifname ip broadcast netmask)} = splice @ARGV, 0, 4;"));
        assert!(SCRIPT.contains("my $master = $rec->();\nmy $owner = $rec->();\n"));
        assert!(SCRIPT.contains("&{$sub}($master, \\@extras, $owner)"));
        assert!(SCRIPT.contains("no strict 'refs'"));
        assert!(SCRIPT.contains("exit($ret < 0 ? 0 : $ret > 255 ? 255 : $ret);"));
    }

    #[test]
    fn arguments_of_an_on_event() {
        let mut a = CallArgs::ZERO;
        a.master = CInterface::from_ifaddr(&IfAddr {
            ifname: "eth0".into(),
            addr: Ipv4Addr::new(192, 0, 2, 10),
            prefix: 24,
            net_prefix: 24,
        });
        a.extras[0] = CInterface::from_ifaddr(&IfAddr {
            ifname: "eth1".into(),
            addr: Ipv4Addr::new(198, 51, 100, 7),
            prefix: 32,
            net_prefix: 24,
        });
        a.owner = CInterface::owner(Some(Ipv4Addr::new(10, 0, 0, 2)));
        let v = perl_args(
            &["/opt/lib".into(), "lib2".into()],
            &["MyModule".into(), "Other qw(x)".into()],
            "MyModule::DoMagic",
            &a,
        );
        let tail: Vec<&str> = v.iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "-I/opt/lib",
                "-Ilib2",
                "-MMyModule",
                "-MOther qw(x)",
                "-e",
                SCRIPT,
                "--",
                "MyModule::DoMagic",
                "1",
                "eth0",
                "192.0.2.10",
                "192.0.2.255",
                "255.255.255.0",
                "",
                "10.0.0.2",
                "0.0.0.0",
                "0.0.0.0",
                "eth1",
                "198.51.100.7",
                "198.51.100.7",
                "255.255.255.255",
            ]
        );
    }

    #[test]
    fn post_events_pass_zero_hashes_and_no_extras() {
        let v = perl_args(&[], &[], "dump", &CallArgs::ZERO);
        let data: Vec<&str> = v.iter().skip(3).map(String::as_str).collect();
        assert_eq!(
            data,
            [
                "dump", "0", "", "0.0.0.0", "0.0.0.0", "0.0.0.0", "", "0.0.0.0", "0.0.0.0",
                "0.0.0.0"
            ]
        );
    }
}
