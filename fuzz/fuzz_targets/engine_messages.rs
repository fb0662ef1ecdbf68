//! The cluster engine fed views, timers and group messages with any
//! bodies and types, as a stranger in the group could send them: it never
//! panics, and every VIF it holds is one its table gives it.
//!
//! Input: a program of ops. 0 n: a view of n+1 members (this node at
//! 0). 1 from type delivered len bytes: a message. 2 t: a timer.
#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wackamole::cluster::engine::{Cause, Delivered, Engine, Event, Settings, Timer, View};
use wackamole::config::VifId;

fn settings() -> Settings {
    Settings {
        me: Ipv4Addr::new(192, 168, 78, 1),
        vifs: (0..6)
            .map(|i| VifId::new(Ipv4Addr::new(192, 168, 78, 101 + i)))
            .collect(),
        prefer: vec![Ipv4Addr::new(192, 168, 78, 102)],
        balance_rate: 3,
        complete_balance: true,
        balance_interval: Duration::from_secs(5),
        mature: Duration::from_secs(5),
        arp_cache: Duration::from_secs(60),
        gather_timeout: Some(Duration::from_secs(2)),
        quorum: 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut e = Engine::new(settings());
    e.handle(Event::Connected {
        private_group: "#m0#d",
    });
    let mut views = 0u32;
    let mut at = 0;
    let byte = |at: &mut usize| -> Option<u8> {
        let b = data.get(*at).copied();
        *at += 1;
        b
    };
    while let Some(op) = byte(&mut at) {
        match op % 3 {
            0 => {
                let n = usize::from(byte(&mut at).unwrap_or(0) % 8) + 1;
                views += 1;
                e.handle(Event::View(View {
                    id: [1, 1, views],
                    members: (0..n).map(|i| format!("#m{i}#d")).collect(),
                    my_index: 0,
                    cause: Cause::Join,
                }));
            }
            1 => {
                let (Some(from), Some(t), Some(how), Some(len)) =
                    (byte(&mut at), byte(&mut at), byte(&mut at), byte(&mut at))
                else {
                    break;
                };
                let end = (at + usize::from(len)).min(data.len());
                let body = &data[at..end];
                at = end;
                let delivered = match how % 3 {
                    0 => Delivered::Agreed,
                    1 => Delivered::Unordered,
                    _ => Delivered::Elsewhere,
                };
                e.handle(Event::Message {
                    sender: &format!("#m{}#d", from % 10),
                    mess_type: i16::from(t % 10),
                    swapped: how & 0x80 != 0,
                    delivered,
                    body,
                });
            }
            _ => {
                let t = match byte(&mut at).unwrap_or(0) % 4 {
                    0 => Timer::Maturity,
                    1 => Timer::Balance,
                    2 => Timer::ArpCache,
                    _ => Timer::Gather,
                };
                e.handle(Event::Timer(t));
            }
        }
        if e.phase() == wackamole::cluster::engine::Phase::Run {
            for id in e.held() {
                let slot = e.slot(id).expect("a held VIF is configured");
                assert_eq!(
                    slot.owner,
                    e.settings().me,
                    "holds what the table gives another"
                );
            }
        }
    }
});
