//! The engine's cost for one view change: the view, every member's
//! STATE, the claims, and the leader's balance round. `cargo bench
//! --bench engine`. Targets: well under 1 ms at 8 nodes / 64 VIFs and
//! under 20 ms at 32 nodes / 1,024 VIFs.
//!
//! Then the table at scale (see `scale`): a leave and a join at 8 to 64
//! nodes and 256 to 4,096 VIFs, to show how the cost grows.
//! `ENGINE_BENCH_CASE=64x4096` runs that one case alone (for a profile).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use wackamole::cluster::engine::{
    Action, Cause, Delivered, Engine, Event, Phase, Settings, Timer, View,
};
use wackamole::cluster::msg::{Balance, Hello, MessType, Priority, State};
use wackamole::config::VifId;

fn settings(me: usize, vifs: usize) -> Settings {
    Settings {
        me: Ipv4Addr::from(0x0a00_0001 + me as u32),
        vifs: (0..vifs)
            .map(|i| VifId::new(Ipv4Addr::from(0xc000_0200 + i as u32)))
            .collect(),
        prefer: vec![],
        balance_rate: (vifs / 2) as u32,
        complete_balance: true,
        balance_interval: Duration::from_secs(300),
        mature: Duration::from_secs(5),
        arp_cache: Duration::from_secs(60),
        gather_timeout: Some(Duration::from_secs(2)),
        quorum: 0,
    }
}

/// One view change at `nodes`/`vifs`: the previous view held every VIF
/// on the first `nodes - 1` members, and the last member is new.
fn measure(nodes: usize, vifs: usize, runs: usize) {
    let names: Vec<String> = (0..nodes).map(|i| format!("#n{i}#d{i}")).collect();
    let id = [1, 2, 3];
    let states: Vec<Vec<u8>> = (0..nodes)
        .map(|m| {
            let held = if m == nodes - 1 {
                vec![]
            } else {
                (0..vifs)
                    .filter(|v| v % (nodes - 1) == m)
                    .map(|v| (Ipv4Addr::from(0xc000_0200 + v as u32), Priority::Claimed))
                    .collect()
            };
            State {
                group_id: id,
                real: Ipv4Addr::from(0x0a00_0001 + m as u32),
                index: m as i32,
                mature: m != nodes - 1,
                held,
                prefer: vec![],
            }
            .encode()
        })
        .collect();
    // The leader, as it is when the view arrives.
    let mut base = Engine::new(settings(0, vifs));
    base.handle(Event::Connected {
        private_group: &names[0],
    });
    let change = |e: &mut Engine| {
        let mut n = e
            .handle(Event::View(View {
                id,
                members: names.clone(),
                my_index: 0,
                cause: Cause::Join,
            }))
            .len();
        for (m, body) in states.iter().enumerate() {
            n += e
                .handle(Event::Message {
                    sender: &names[m],
                    mess_type: MessType::State as i16,
                    swapped: false,
                    delivered: Delivered::Agreed,
                    body,
                })
                .len();
        }
        n + e.handle(Event::Timer(Timer::Balance)).len()
    };
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let mut e = base.clone();
            let t = Instant::now();
            black_box(change(&mut e));
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "one view change, {nodes} nodes / {vifs} VIFs: median {:.3} ms, min {:.3} ms, max {:.3} ms over {runs} runs",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[runs - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    if std::env::var_os("ENGINE_BENCH_CASE").is_none() {
        measure(8, 64, 2_000);
        measure(32, 1_024, 200);
    }
    scale();
}

// ---- at scale -------------------------------------------------------------
//
// A cluster of Rust nodes (HELLO with its VIF list before each STATE, as
// the daemon sends them) in RUN with the VIFs dealt round robin, seen
// from the leader (member 0), which does the most: it computes the
// balance as well as the exchange.

/// Member `m` of a cluster: its private group name and real address.
fn name(m: usize) -> String {
    format!("#n{m}#d{m}")
}
fn real(m: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0001 + m as u32)
}
fn vip(v: usize) -> Ipv4Addr {
    Ipv4Addr::from(0xc000_0200 + v as u32)
}

/// What the members of view `id` multicast at its start, in the order
/// the group delivers it: each one's HELLO, then its STATE holding
/// `held(m)` (all mature). `members` are indices into the cluster.
fn exchange(
    id: [u32; 3],
    members: &[usize],
    vifs: usize,
    held: impl Fn(usize) -> Vec<usize>,
) -> Vec<(String, MessType, Vec<u8>)> {
    let list: Vec<Ipv4Addr> = (0..vifs).map(vip).collect();
    let mut out = Vec::new();
    for (index, &m) in members.iter().enumerate() {
        let hello = Hello {
            group_id: id,
            c_members: vec![],
            vifs: Some(list.clone()),
        };
        out.push((name(m), MessType::Hello, hello.encode()));
        let state = State {
            group_id: id,
            real: real(m),
            index: index as i32,
            mature: true,
            held: held(m)
                .into_iter()
                .map(|v| (vip(v), Priority::Claimed))
                .collect(),
            prefer: vec![],
        };
        out.push((name(m), MessType::State, state.encode()));
    }
    out
}

/// Delivers `msgs` to `e`; returns how many actions came out.
fn deliver(e: &mut Engine, msgs: &[(String, MessType, Vec<u8>)]) -> usize {
    msgs.iter()
        .map(|(sender, t, body)| {
            e.handle(Event::Message {
                sender,
                mess_type: *t as i16,
                swapped: false,
                delivered: Delivered::Agreed,
                body,
            })
            .len()
        })
        .sum()
}

fn view(id: [u32; 3], members: &[usize], cause: Cause) -> Event<'static> {
    Event::View(View {
        id,
        members: members.iter().map(|&m| name(m)).collect(),
        my_index: 0,
        cause,
    })
}

/// The leader of `nodes` members after an exchange that dealt `vifs`
/// VIFs round robin: in RUN, mature, balanced.
fn settled(nodes: usize, vifs: usize) -> Engine {
    let mut e = Engine::new(settings(0, vifs));
    e.handle(Event::Connected {
        private_group: &name(0),
    });
    let all: Vec<usize> = (0..nodes).collect();
    let id = [1, 1, 1];
    e.handle(view(id, &all, Cause::Join));
    let msgs = exchange(id, &all, vifs, |m| (m..vifs).step_by(nodes).collect());
    deliver(&mut e, &msgs);
    e.handle(Event::Timer(Timer::Balance));
    assert_eq!(e.phase(), Phase::Run);
    assert!(e.rust_view());
    e
}

/// Times `f` on a fresh `setup()` each run (setup not timed): at least
/// 5 runs and about 0.4 s, at most 2,000 runs. (median, min).
fn time<T>(setup: impl Fn() -> T, f: impl Fn(&mut T) -> usize) -> (Duration, Duration) {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < Duration::from_millis(400) && times.len() < 2_000) {
        let mut s = setup();
        let t = Instant::now();
        black_box(f(&mut s));
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], times[0])
}

/// One case of the table: a member leaves (the survivors' exchange,
/// from the view to RUN, and the balance round after it), and a member
/// joins with nothing (the balance round that gives it its share: the
/// leader's moves, and applying its BALANCE when it comes back).
fn scale_case(nodes: usize, vifs: usize) {
    let base = settled(nodes, vifs);
    // The middle member leaves; its VIFs are unclaimed in the new view.
    let gone = nodes / 2;
    let survivors: Vec<usize> = (0..nodes).filter(|&m| m != gone).collect();
    let leave_id = [1, 2, 1];
    let leave_msgs = exchange(leave_id, &survivors, vifs, |m| {
        (m..vifs).step_by(nodes).collect()
    });
    let leave = |e: &mut Engine| {
        let n = e.handle(view(leave_id, &survivors, Cause::Leave)).len() + deliver(e, &leave_msgs);
        assert_eq!(e.phase(), Phase::Run);
        n
    };
    let exch = time(|| base.clone(), leave);
    let after_leave = {
        let mut e = base.clone();
        leave(&mut e);
        e
    };
    let bal_leave = time(
        || after_leave.clone(),
        |e| e.handle(Event::Timer(Timer::Balance)).len(),
    );

    // A new member joins: the others keep what they had, it has nothing.
    let joined: Vec<usize> = (0..=nodes).collect();
    let join_id = [1, 3, 1];
    let join_msgs = exchange(join_id, &joined, vifs, |m| {
        if m == nodes {
            vec![]
        } else {
            (m..vifs).step_by(nodes).collect()
        }
    });
    let after_join = {
        let mut e = base.clone();
        e.handle(view(join_id, &joined, Cause::Join));
        deliver(&mut e, &join_msgs);
        e
    };
    let mut probe = after_join.clone();
    let balance_body = probe
        .handle(Event::Timer(Timer::Balance))
        .into_iter()
        .find_map(|a| match a {
            Action::Multicast {
                mess_type: MessType::Balance,
                body,
            } => Some(body),
            _ => None,
        })
        .expect("a BALANCE after a join");
    let moves = Balance::decode(&balance_body, false).unwrap().moves.len();
    let bal_join = time(
        || after_join.clone(),
        |e| {
            e.handle(Event::Timer(Timer::Balance)).len()
                + deliver(e, &[(name(0), MessType::Balance, balance_body.clone())])
        },
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let us_per_vif = |d: Duration| d.as_secs_f64() * 1e6 / vifs as f64;
    println!(
        "{nodes:>5} {vifs:>6} | {:>8.3} {:>8.3} {:>7.3} | {:>8.3} {:>8.3} | {moves:>5} {:>8.3} {:>8.3} {:>7.3}",
        ms(exch.0),
        ms(exch.1),
        us_per_vif(exch.0),
        ms(bal_leave.0),
        ms(bal_leave.1),
        ms(bal_join.0),
        ms(bal_join.1),
        us_per_vif(bal_join.0),
    );
}

fn scale() {
    println!();
    println!("at scale: the leader of N Rust nodes (HELLO + STATE each), VIFs dealt round robin");
    println!("  leave: member N/2 leaves, the view to RUN over the survivors' HELLOs and STATEs");
    println!("  bal/leave: the balance round after it; join: a member joins with nothing,");
    println!("  the balance round giving it its share and the BALANCE applied when it comes back");
    println!("times in ms (median, min); per VIF in us (median / VIFs)");
    println!(
        "{:>5} {:>6} | {:>8} {:>8} {:>7} | {:>8} {:>8} | {:>5} {:>8} {:>8} {:>7}",
        "nodes",
        "VIFs",
        "leave",
        "min",
        "us/VIF",
        "bal/lv",
        "min",
        "moves",
        "join",
        "min",
        "us/VIF"
    );
    let only: Option<(usize, usize)> = std::env::var("ENGINE_BENCH_CASE").ok().and_then(|s| {
        let (n, v) = s.split_once('x')?;
        Some((n.parse().ok()?, v.parse().ok()?))
    });
    for nodes in [8, 16, 32, 64] {
        for vifs in [256, 1_024, 4_096] {
            if only.map_or(true, |c| c == (nodes, vifs)) {
                scale_case(nodes, vifs);
            }
        }
    }
}
