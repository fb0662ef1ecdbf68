//! `wackamole`: the daemon's command line (flags of C wackamole 2.1.4,
//! plus `-t` and `-a`).

use std::path::PathBuf;
use std::process::ExitCode;

use wackamole::config;
use wackamole::daemon::{self, process};
use wackamole::net::identity;
use wackamole::spread::addr::SpreadAddr;
use wackamole::spread::name::MAX_PRIVATE_NAME;

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optopt(
        "a",
        "",
        "this node's own address, its identity in the cluster (overrides NodeAddress =)",
        "ADDRESS",
    );
    o.optopt(
        "c",
        "",
        "configuration file (default: SYSCONFDIR/wackamole.conf, then ./wackamole.conf)",
        "FILE",
    );
    o.optflag("d", "", "debug: stay in the foreground and log to stderr");
    o.optopt(
        "p",
        "",
        "pid file (default /var/run/wackamole.pid; under -d only when given)",
        "FILE",
    );
    o.optopt(
        "s",
        "",
        "Spread daemon: PORT, PORT@HOST or a socket path (overrides Spread =)",
        "SPREAD",
    );
    o.optopt("u", "", "Spread private name (default wack<pid>)", "NAME");
    o.optflag("t", "", "check the configuration, print a summary and exit");
    o.optflag("v", "", "print the version and exit");
    o.optflag("h", "", "print this help and exit");
    o
}

fn usage(o: &getopts::Options) -> String {
    o.usage(
        "Usage: wackamole [-a ADDRESS] [-c FILE] [-d] [-p FILE] [-s SPREAD] [-u NAME] [-t] [-v]",
    )
}

fn main() -> ExitCode {
    // The daemon starts itself again to run a RunDynamic hook (hidden
    // mode, see wackamole::hooks::runner); nothing else applies then.
    if let Some(status) = wackamole::hooks::runner::main_if_runner() {
        return status;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = options();
    let m = match opts.parse(&args) {
        Ok(m) if m.free.is_empty() => m,
        Ok(m) => {
            eprintln!("wackamole: unexpected argument '{}'", m.free[0]);
            eprint!("{}", usage(&opts));
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("wackamole: {e}");
            eprint!("{}", usage(&opts));
            return ExitCode::from(2);
        }
    };
    if m.opt_present("h") {
        print!("{}", usage(&opts));
        return ExitCode::SUCCESS;
    }
    if m.opt_present("v") {
        println!("{}", wackamole::version_banner());
        return ExitCode::SUCCESS;
    }
    let spread_override = match m
        .opt_str("s")
        .map(|s| SpreadAddr::parse(&s).map(|a| (s, a)))
    {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            eprintln!("wackamole: -s: {e}");
            return ExitCode::from(2);
        }
    };
    let address_override = match m.opt_str("a") {
        None => None,
        Some(a) => match identity::parse_node_address(&a) {
            Ok(addr) => Some(addr),
            Err(e) => {
                eprintln!("wackamole: -a: invalid address '{a}': {e}");
                return ExitCode::from(2);
            }
        },
    };
    if let Some(u) = m.opt_str("u") {
        if u.is_empty() || u.len() > MAX_PRIVATE_NAME {
            eprintln!(
                "wackamole: -u: a Spread private name has 1 to {MAX_PRIVATE_NAME} bytes, '{u}' has {}",
                u.len()
            );
            return ExitCode::from(2);
        }
    }

    let path = m.opt_str("c").map(PathBuf::from);
    let Some(cfg) = config::load_and_report(path.as_deref()) else {
        return ExitCode::FAILURE;
    };
    if cfg.membership() != config::Backend::Spread {
        for flag in ["s", "u"].into_iter().filter(|f| m.opt_present(f)) {
            eprintln!(
                "wackamole: warning: -{flag} names a Spread setting; {} has 'Membership = {}': ignored",
                cfg.file().display(),
                cfg.membership().name()
            );
        }
    } else if let Some((text, addr)) = &spread_override {
        if addr != cfg.spread() {
            eprintln!(
                "wackamole: warning: -s {text} overrides 'Spread = {}' of {}",
                cfg.spread_text(),
                cfg.file().display()
            );
        }
    }

    if let (Some(flag), Some(directive)) = (address_override, cfg.node_address()) {
        if flag != directive {
            eprintln!(
                "wackamole: warning: -a {flag} overrides 'NodeAddress = {directive}' of {}",
                cfg.file().display()
            );
        }
    }

    if m.opt_present("t") {
        // The daemon will refuse to start without an identity; a check
        // of the file still passes, with the problem as a warning.
        let node = match identity::for_config(address_override, &cfg) {
            Ok((addr, source)) => format!("{addr} ({source})"),
            Err(e) => {
                eprintln!("wackamole: warning: {e}");
                "(cannot be determined: see the warning)".to_string()
            }
        };
        print!("{}", cfg.summary_with_identity(&node));
        // The key file is checked as the daemon would read it; its
        // contents are never shown.
        if let Err(e) = daemon::load_keys(&cfg) {
            eprintln!("wackamole: {e}");
            return ExitCode::FAILURE;
        }
        // As the daemon would look them up at start.
        if let Err(e) = wackamole::control::Access::resolve(cfg.control_group()) {
            eprintln!("wackamole: {e}");
            return ExitCode::FAILURE;
        }
        if let Err(e) = daemon::spread_owners(&cfg) {
            eprintln!("wackamole: {e}");
            return ExitCode::FAILURE;
        }
        if let Some((text, addr)) = &spread_override {
            println!("  (-s)                 Spread {text} ({addr}) is used");
        }
        return ExitCode::SUCCESS;
    }

    if !process::is_root() {
        eprintln!("wackamole: {}", daemon::StartError::NotRoot);
        return ExitCode::FAILURE;
    }
    let debug = m.opt_present("d");
    let pidfile = m
        .opt_str("p")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(process::DEFAULT_PIDFILE));
    // The detached child works from /: both sides must name one file.
    let pidfile = std::path::absolute(&pidfile).unwrap_or(pidfile);
    let write_pidfile = !debug || m.opt_present("p");
    if !debug && !process::is_detached_child() {
        // What the background daemon would refuse about its pid file
        // (one running already, a link planted there) is said here, on
        // the terminal, rather than in the system log.
        if let Err(e) = process::PidFile::probe(&pidfile) {
            eprintln!("wackamole: {e}");
            return ExitCode::FAILURE;
        }
        // Run again in the background, with the config path made
        // absolute (the daemon works from /). Without -c the child
        // looks the file up as this process did (it starts in this
        // working directory), so that it knows a fallback
        // ./wackamole.conf for one and checks it again at each reload.
        let mut child = Vec::new();
        if m.opt_present("c") {
            child.push("-c".to_string());
            child.push(cfg.file().display().to_string());
        }
        child.push("-p".into());
        child.push(pidfile.display().to_string());
        for flag in ["a", "s", "u"] {
            if let Some(v) = m.opt_str(flag) {
                child.push(format!("-{flag}"));
                child.push(v);
            }
        }
        return match process::detach(&child, &pidfile) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("wackamole: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let control =
        std::path::absolute(cfg.control()).unwrap_or_else(|_| cfg.control().to_path_buf());
    if process::is_detached_child() {
        if let Err(e) = process::become_daemon() {
            eprintln!("wackamole: cannot detach: {e}");
            return ExitCode::FAILURE;
        }
    }
    daemon::logging::init(debug, cfg.log_facility());
    log::info!(
        "{}",
        wackamole::version_banner()
            .lines()
            .next()
            .unwrap_or("wackamole")
    );
    // Locked before anything starts, so that a second daemon with this
    // pid file stops here, touching nothing; written once started.
    let pidfile = if write_pidfile {
        match process::PidFile::lock(&pidfile) {
            Ok(f) => Some(f),
            Err(e) => {
                log::error!("{e}");
                if !debug {
                    eprintln!("wackamole: {e}");
                }
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let opts = daemon::Options {
        spread: spread_override.map(|(_, a)| a),
        user: m.opt_str("u"),
        node_address: address_override,
        control,
    };
    // Start first: the pid in the file tells the launcher (and init
    // scripts) that the daemon is up, so it must not appear for one that
    // fails (the file, empty until then, goes with it).
    let mut node = match daemon::Node::start(cfg, opts) {
        Ok(n) => n,
        Err(e) => {
            log::error!("{e}");
            if !debug {
                eprintln!("wackamole: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(Err(e)) = pidfile.as_ref().map(process::PidFile::write_pid) {
        log::error!("{e}");
        return ExitCode::FAILURE;
    }
    node.run();
    ExitCode::SUCCESS
}
