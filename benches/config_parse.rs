//! Config parsing cost: a 10,000-VIF config (the target is well under
//! 50 ms), and the sample. `cargo bench --bench config_parse`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use wackamole::config;

fn big_config(vifs: usize) -> String {
    let mut s = String::from(
        "Spread = 4803@127.0.0.1\nGroup = bench\nControl = /run/w.sock\nMature = 5s\n\
         Balance {\n  AcquisitionsPerRound = all\n  Interval = 4s\n}\nArp-Cache = 90s\n\
         Prefer { eth0:10.0.0.1/32 eth0:10.0.1.0/24 }\n\
         Notify {\n  eth0:10.0.0.0/16 throttle 128\n  arp-cache ping\n}\n\
         VirtualInterfaces {\n",
    );
    for i in 0..vifs {
        let a = 0x0A00_0000u32 + 2 * i as u32 + 1;
        let ip = std::net::Ipv4Addr::from(a);
        let extra = std::net::Ipv4Addr::from(a + 1);
        if i % 10 == 0 {
            // Every tenth VIF is a group with a comment.
            s.push_str(&format!(
                "  {{ eth0:{ip}/32n16 eth1:{extra}/32 }} # group {i}\n"
            ));
        } else {
            s.push_str(&format!("  eth0:{ip}/32n16\n"));
        }
    }
    s.push_str("}\n");
    s
}

fn measure(name: &str, text: &str, runs: usize) {
    let file = Path::new("bench.conf");
    // Warm up, and check it parses at all.
    let loaded = config::parse(text, file).expect("the bench config parses");
    let vifs = loaded.config.vifs().len();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(config::parse(black_box(text), file).ok());
            t.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{name}: {vifs} VIFs, {} KiB: min {:.3} ms, median {:.3} ms, max {:.3} ms over {runs} runs ({:.0} ns/VIF at the median)",
        text.len() / 1024,
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs - 1]),
        times[runs / 2].as_nanos() as f64 / vifs as f64,
    );
}

fn main() {
    measure("10,000-VIF config", &big_config(10_000), 50);
    measure("1,000-VIF config", &big_config(1_000), 200);
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wackamole.conf.sample"
    ))
    .unwrap();
    measure("wackamole.conf.sample", &sample, 2_000);
}
