//! `wackatrl`: the control tool (flags of C wackatrl 2.1.4). The control
//! protocol arrives with the daemon; today it reads the config and says
//! which socket it would talk to.

use std::path::PathBuf;
use std::process::ExitCode;

use wackamole::config;

fn main() -> ExitCode {
    let mut o = getopts::Options::new();
    o.optopt("c", "", "configuration file (for its Control path)", "FILE");
    o.optflag("l", "", "list the VIF table");
    o.optflag(
        "f",
        "",
        "simulate a failure: leave Spread and release every VIP",
    );
    o.optflag("s", "", "end a simulated failure: rejoin Spread");
    o.optflag("h", "", "print this help and exit");
    let brief = "Usage: wackatrl [-c FILE] -l|-f|-s";
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m = match o.parse(&args) {
        Ok(m) if m.free.is_empty() => m,
        _ => {
            eprint!("{}", o.usage(brief));
            return ExitCode::from(2);
        }
    };
    if m.opt_present("h") {
        print!("{}", o.usage(brief));
        return ExitCode::SUCCESS;
    }
    let requests = ["l", "f", "s"].iter().filter(|f| m.opt_present(f)).count();
    if requests != 1 {
        eprint!("{}", o.usage(brief));
        return ExitCode::from(2);
    }
    let path = m.opt_str("c").map(PathBuf::from);
    let Some(cfg) = config::load_and_report(path.as_deref()) else {
        return ExitCode::FAILURE;
    };
    eprintln!(
        "wackatrl: the control protocol is not part of this build yet (socket {})",
        cfg.control().display()
    );
    ExitCode::FAILURE
}
