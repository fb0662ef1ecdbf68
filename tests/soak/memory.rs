//! RSS and open fds of each daemon process, sampled once a second: each
//! process gets a baseline once it has run for the warm-up, and every
//! later sample must stay within 10% of it, plus a small absolute
//! slack (see the constants). A daemon killed before its warm-up ends
//! is never compared: only long-lived processes say anything about a
//! leak. Pure: the driver reads `/proc` and passes the numbers in.

/// The growth allowed over the baseline, in percent.
const PERCENT: u64 = 10;

/// Absolute RSS slack over the 10%, in KiB. The daemon's RSS is a few
/// MiB, and it steps up (never steadily) when a rare event first needs
/// a larger buffer than any before it — the first merge of two
/// components that both hold every VIP, the first failed reconnect
/// burst, the first reload — after which the allocator keeps the pages.
/// Such a step is a few dozen pages; a leak grows with every
/// disturbance and passes any fixed slack in a long soak.
pub const RSS_SLACK_KIB: u64 = 384;

/// Absolute fd slack over the 10%. The count moves with what the
/// daemon is doing at the sample: the Spread socket is missing while
/// Spread is down (or `wackatrl -f` holds it off), a control session
/// of a `wackatrl` in flight has one, and ARP/NA announcement sockets
/// are open while announcements go out. A leak adds one per event and
/// passes this within a few disturbances.
pub const FD_SLACK: usize = 3;

/// One daemon process.
struct Proc {
    host: usize,
    pid: u32,
    first_seen: f64,
    /// (RSS KiB, fds) at the end of its warm-up.
    base: Option<(u64, usize)>,
    peak: (u64, usize),
    last: (u64, usize),
    samples: usize,
    flagged_rss: bool,
    flagged_fds: bool,
}

pub struct MemWatch {
    warmup: f64,
    procs: Vec<Proc>,
}

impl MemWatch {
    /// `warmup`: seconds a process runs before its baseline is taken.
    pub fn new(warmup: f64) -> MemWatch {
        MemWatch {
            warmup,
            procs: Vec::new(),
        }
    }

    /// Host `host`'s daemon `pid` has `rss` KiB and `fds` fds at `t`;
    /// the violations, each reported once per process.
    pub fn observe(&mut self, t: f64, host: usize, pid: u32, rss: u64, fds: usize) -> Vec<String> {
        let k = match self
            .procs
            .iter()
            .position(|p| p.pid == pid && p.host == host)
        {
            Some(k) => k,
            None => {
                self.procs.push(Proc {
                    host,
                    pid,
                    first_seen: t,
                    base: None,
                    peak: (0, 0),
                    last: (0, 0),
                    samples: 0,
                    flagged_rss: false,
                    flagged_fds: false,
                });
                self.procs.len() - 1
            }
        };
        let warmup = self.warmup;
        let p = &mut self.procs[k];
        p.last = (rss, fds);
        if t - p.first_seen < warmup {
            return Vec::new();
        }
        let Some((b_rss, b_fds)) = p.base else {
            p.base = Some((rss, fds));
            p.peak = (rss, fds);
            return Vec::new();
        };
        p.samples += 1;
        p.peak = (p.peak.0.max(rss), p.peak.1.max(fds));
        let mut out = Vec::new();
        let max_rss = b_rss + b_rss * PERCENT / 100 + RSS_SLACK_KIB;
        if rss > max_rss && !p.flagged_rss {
            p.flagged_rss = true;
            out.push(format!(
                "h{} pid {pid}: RSS {rss} KiB, over {max_rss} (baseline {b_rss} KiB at {:.0}s)",
                host + 1,
                p.first_seen + warmup
            ));
        }
        let max_fds = b_fds + b_fds * PERCENT as usize / 100 + FD_SLACK;
        if fds > max_fds && !p.flagged_fds {
            p.flagged_fds = true;
            out.push(format!(
                "h{} pid {pid}: {fds} open fds, over {max_fds} (baseline {b_fds} at {:.0}s)",
                host + 1,
                p.first_seen + warmup
            ));
        }
        out
    }

    /// A line per process that was compared: its baseline, peak and
    /// last numbers.
    pub fn summary(&self) -> Vec<String> {
        self.procs
            .iter()
            .filter_map(|p| {
                let (b_rss, b_fds) = p.base?;
                Some(format!(
                    "h{} pid {}: RSS {} KiB at warm-up, peak {}, last {}; fds {} at warm-up, peak {}, last {} ({} samples)",
                    p.host + 1,
                    p.pid,
                    b_rss,
                    p.peak.0,
                    p.last.0,
                    b_fds,
                    p.peak.1,
                    p.last.1,
                    p.samples
                ))
            })
            .collect()
    }

    /// How many processes had a baseline (were compared).
    pub fn compared(&self) -> usize {
        self.procs.iter().filter(|p| p.base.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_ten_percent_and_the_slack_counts_once() {
        let mut m = MemWatch::new(10.0);
        // Warm-up: anything goes.
        assert!(m.observe(1.0, 0, 42, 1000, 5).is_empty());
        assert!(m.observe(5.0, 0, 42, 9000, 50).is_empty());
        // Baseline at 10 s: 4000 KiB, 8 fds.
        assert!(m.observe(11.0, 0, 42, 4000, 8).is_empty());
        assert!(m
            .observe(12.0, 0, 42, 4400 + RSS_SLACK_KIB, 8 + FD_SLACK)
            .is_empty());
        let v = m.observe(13.0, 0, 42, 4401 + RSS_SLACK_KIB, 9 + FD_SLACK);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(m.observe(14.0, 0, 42, 99999, 99).is_empty(), "once");
        // A new process on the host starts its own warm-up.
        assert!(m.observe(15.0, 0, 43, 99999, 99).is_empty());
        assert_eq!(m.compared(), 1);
        assert_eq!(m.summary().len(), 1);
    }
}
