//! The engine's cost for one view change: the view, every member's
//! STATE, the claims, and the leader's balance round. `cargo bench
//! --bench engine`. Targets: well under 1 ms at 8 nodes / 64 VIFs and
//! under 20 ms at 32 nodes / 1,024 VIFs.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use wackamole::cluster::engine::{Cause, Delivered, Engine, Event, Settings, Timer, View};
use wackamole::cluster::msg::{MessType, Priority, State};
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
    measure(8, 64, 2_000);
    measure(32, 1_024, 200);
}
