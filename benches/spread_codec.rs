//! Spread codec throughput: encoding requests, decoding deliveries
//! (data messages of wackamole's sizes, and memberships). `cargo bench
//! --bench spread_codec`.

use std::hint::black_box;
use std::time::Instant;

use wackamole::spread::wire::message::{self, Cause, Decoder, Membership};
use wackamole::spread::wire::{request, service, GroupId, Order};

fn report(name: &str, count: usize, bytes: usize, secs: f64) {
    println!(
        "{name}: {count} messages in {:.1} ms: {:.2} M msg/s, {:.0} MB/s",
        secs * 1e3,
        count as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (usize, f64) {
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (bytes, best)
}

fn main() {
    const N: usize = 100_000;
    // A STATE of 8 held VIFs: 32 + 8 * 8 + 4 bytes.
    let state = vec![0x5au8; 100];
    let (bytes, secs) = best_of(5, || {
        let mut total = 0;
        for _ in 0..N {
            let v = request::multicast(
                Order::NATIVE,
                "#wack1#node1",
                service::AGREED,
                &["wack"],
                1,
                black_box(&state),
            )
            .unwrap();
            total += v.len();
        }
        total
    });
    report("encode AGREED multicast, 100-byte body", N, bytes, secs);

    let one = message::encode_data(
        Order::NATIVE,
        service::AGREED,
        "#wack1#node1",
        &["wack".to_string()],
        wackamole::spread::wire::hint_for(Order::NATIVE, 1),
        &state,
    );
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * N).collect();
    let (bytes, secs) = best_of(5, || {
        let mut d = Decoder::new(5);
        let mut n = 0;
        for chunk in stream.chunks(64 * 1024) {
            d.feed(chunk);
            while let Some(m) = d.next_message().unwrap() {
                black_box(&m);
                n += 1;
            }
        }
        assert_eq!(n, N);
        stream.len()
    });
    report(
        "decode data messages from a 64 KiB-chunked stream",
        N,
        bytes,
        secs,
    );

    let members: Vec<String> = (0..8).map(|i| format!("#wack{i}#node{i}")).collect();
    let m = Membership {
        group: "wack".into(),
        cause: Cause::Network,
        group_id: GroupId([1, 2, 3]),
        members: members.clone(),
        vs_sets: vec![members[..4].to_vec(), members[4..].to_vec()],
        local_vs_set: 1,
    };
    let one = message::encode_membership(Order::NATIVE, &m);
    const M: usize = 20_000;
    let stream: Vec<u8> = one.iter().copied().cycle().take(one.len() * M).collect();
    let (bytes, secs) = best_of(5, || {
        let mut d = Decoder::new(5);
        d.feed(&stream);
        let mut n = 0;
        while let Some(m) = d.next_message().unwrap() {
            black_box(&m);
            n += 1;
        }
        assert_eq!(n, M);
        stream.len()
    });
    report("decode 8-member NETWORK memberships", M, bytes, secs);
}
