//! `spread-client`: see what wackamole sees. Joins a Spread group,
//! optionally multicasts a text once, and prints one line per event
//! until the time is up.
//!
//!     spread-client -s SPREAD -u NAME -g GROUP [-t SECS] [-m TEXT]
//!
//! Lines:
//!     MEMBERSHIP <JOIN|LEAVE|DISCONNECT|NETWORK> <group> <gid a:b:c> <my index> <member> ...
//!     TRANSITION <group>
//!     MESSAGE <service> <sender> <type> <bytes>
//!     SELF-LEAVE <group>
//!     REJECT <service> <sender> <type> <bytes>

use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use wackamole::spread::addr::SpreadAddr;
use wackamole::spread::client::Client;
use wackamole::spread::wire::message::{DataMessage, Message};
use wackamole::spread::wire::service;

fn usage(o: &getopts::Options) -> String {
    o.usage("Usage: spread-client -s SPREAD -u NAME -g GROUP [-t SECS] [-m TEXT]")
}

fn main() -> ExitCode {
    let mut o = getopts::Options::new();
    o.reqopt(
        "s",
        "",
        "Spread daemon: PORT, PORT@HOST or a socket path",
        "SPREAD",
    );
    o.reqopt("u", "", "private name (1-10 bytes)", "NAME");
    o.reqopt("g", "", "group to join", "GROUP");
    o.optopt("t", "", "seconds to run (default 10)", "SECS");
    o.optopt(
        "m",
        "",
        "multicast TEXT once after joining (AGREED, type 1)",
        "TEXT",
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m = match o.parse(&args) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("spread-client: {e}");
            eprint!("{}", usage(&o));
            return ExitCode::from(2);
        }
    };
    let addr = match SpreadAddr::parse(&m.opt_str("s").unwrap_or_default()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("spread-client: -s: {e}");
            return ExitCode::from(2);
        }
    };
    let secs: f64 = match m.opt_str("t").map(|t| t.parse()) {
        None => 10.0,
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            eprintln!("spread-client: -t takes a number of seconds");
            return ExitCode::from(2);
        }
    };
    let group = m.opt_str("g").unwrap_or_default();
    let name = m.opt_str("u").unwrap_or_default();
    match run(
        &addr,
        &name,
        &group,
        m.opt_str("m"),
        Duration::from_secs_f64(secs),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spread-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    addr: &SpreadAddr,
    name: &str,
    group: &str,
    text: Option<String>,
    run_for: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + run_for;
    let mut c = Client::connect(addr, name, true, Duration::from_secs(5))?;
    eprintln!("connected to {addr} as {}", c.private_group());
    c.join(group)?;
    if let Some(t) = text {
        c.multicast(service::AGREED, &[group], 1, t.as_bytes())?;
    }
    let mut poll = Poll::new()?;
    poll.registry().register(
        c.socket(),
        Token(0),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut events = Events::with_capacity(8);
    loop {
        while let Some(m) = c.receive()? {
            println!("{}", line(&m, c.private_group()));
        }
        c.flush()?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        poll.poll(&mut events, Some(left))?;
    }
    c.disconnect();
    Ok(())
}

fn data_line(what: &str, d: &DataMessage) -> String {
    format!(
        "{what} {} {} {} {}",
        service::name(d.service_type),
        d.sender,
        d.mess_type,
        d.data.len()
    )
}

fn line(m: &Message, me: &str) -> String {
    match m {
        Message::Membership(mb) => {
            let index = mb
                .index_of(me)
                .map_or_else(|| "-1".to_string(), |i| i.to_string());
            format!(
                "MEMBERSHIP {} {} {} {} {}",
                mb.cause.name(),
                mb.group,
                mb.group_id,
                index,
                mb.members.join(" ")
            )
        }
        Message::Transition { group, .. } => format!("TRANSITION {group}"),
        Message::SelfLeave { group } => format!("SELF-LEAVE {group}"),
        Message::Data(d) => data_line("MESSAGE", d),
        Message::Reject(d) => data_line("REJECT", d),
    }
}
