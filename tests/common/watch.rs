//! Watching where VIPs are: every host's addresses sampled together
//! ([`AddrSampler`]) every few milliseconds on a thread of its own, the
//! samples kept with their times for the test to judge afterwards.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use super::netns::AddrSampler;

/// One sample: when, and for each watched VIP the hosts holding it.
pub struct Sample {
    pub at: Instant,
    pub holders: Vec<Vec<usize>>,
}

pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Sample>>>,
}

impl Watch {
    /// Starts sampling `vips` on every host of `c` every `every`.
    pub fn start(c: &Cluster, vips: &[Ipv4Addr], every: Duration) -> Watch {
        let ns: Vec<&super::netns::Netns> = c.hosts.iter().map(|h| &h.ns).collect();
        let sampler = AddrSampler::new(&ns);
        let vips = vips.to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut out = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                let at = Instant::now();
                let held = sampler.sample();
                let holders = vips
                    .iter()
                    .map(|v| (0..held.len()).filter(|&i| held[i].contains(v)).collect())
                    .collect();
                out.push(Sample { at, holders });
                std::thread::sleep(every.saturating_sub(at.elapsed()));
            }
            out
        });
        Watch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns the samples.
    pub fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The longest time any VIP (by index) was on no host: from the first
/// sample without it to the next sample with it (or the last sample).
pub fn longest_gap(samples: &[Sample]) -> (Duration, Option<usize>) {
    let n = samples.first().map_or(0, |s| s.holders.len());
    let mut worst = (Duration::ZERO, None);
    for v in 0..n {
        let mut since: Option<Instant> = None;
        for s in samples {
            match (s.holders[v].is_empty(), since) {
                (true, None) => since = Some(s.at),
                (false, Some(t)) => {
                    if s.at - t > worst.0 {
                        worst = (s.at - t, Some(v));
                    }
                    since = None;
                }
                _ => {}
            }
        }
        if let (Some(t), Some(last)) = (since, samples.last()) {
            if last.at - t > worst.0 {
                worst = (last.at - t, Some(v));
            }
        }
    }
    worst
}

/// Samples where a VIP (by index) was on two hosts or more, as
/// (sample index, VIP index, hosts).
pub fn twice(samples: &[Sample]) -> Vec<(usize, usize, Vec<usize>)> {
    let mut out = Vec::new();
    for (k, s) in samples.iter().enumerate() {
        for (v, h) in s.holders.iter().enumerate() {
            if h.len() > 1 {
                out.push((k, v, h.clone()));
            }
        }
    }
    out
}

/// The samples taken between `from` and `to`.
pub fn between(samples: &[Sample], from: Instant, to: Instant) -> &[Sample] {
    let a = samples.partition_point(|s| s.at < from);
    let b = samples.partition_point(|s| s.at <= to);
    &samples[a..b]
}
