//! The ARP caches: this host's, sampled from `/proc/net/arp` and
//! multicast as ARPCACHE (spec §7.3, §9.2), and the cluster's shared
//! cache, merged from every ARPCACHE received, whose addresses the
//! `arp-cache` Notify entry announces a takeover to (§9.3).
//!
//! Owns: reading the kernel's table and the shared cache's rules
//! (keyed by address; an address belongs to the member that reported it
//! first, whose newest MAC wins; a member holds at most
//! [`MAX_PER_SENDER`] addresses; entries are aged out). Pure except
//! [`sample`], which reads the file; time is an input, counted in
//! `Arp-Cache` intervals by the caller.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::cluster::msg::ArpRecord;

/// Where Linux shows its IPv4 neighbour table.
pub const PROC_NET_ARP: &str = "/proc/net/arp";

/// `ATF_COM`: the entry is complete (its MAC is known).
const ATF_COM: u32 = 0x2;

/// An entry not reported again for this many `Arp-Cache` intervals is
/// dropped (C never aged its shared cache).
pub const EXPIRE_INTERVALS: u64 = 3;

/// The shared cache holds at most this many addresses; addresses first
/// heard of while it is full are ignored until expiry makes room. Far
/// above any real LAN; it bounds what hostile ARPCACHE messages cost.
pub const MAX_SHARED: usize = 65_536;

/// Addresses one member's reports may hold in the shared cache: a
/// member cannot fill it and starve the others' neighbours.
pub const MAX_PER_SENDER: usize = 4096;

/// The complete entries of a `/proc/net/arp` text, in file order:
/// those whose flags have `ATF_COM` (0x2) and whose MAC is six octets,
/// not all zero. The header and any line that does not read as
/// `IP 0xTYPE 0xFLAGS MAC MASK DEVICE` are skipped. (C took every line,
/// incomplete ones included, and stopped at the first short one.)
pub fn parse_proc_net_arp(text: &str) -> Vec<ArpRecord> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<ArpRecord> {
    let mut f = line.split_whitespace();
    let ip: Ipv4Addr = f.next()?.parse().ok()?;
    let _hw_type = hex(f.next()?)?;
    let flags = hex(f.next()?)?;
    let mac = parse_mac(f.next()?)?;
    // The mask and the device must be there for the line to be whole.
    f.next()?;
    f.next()?;
    (flags & ATF_COM != 0 && mac != [0; 6] && !ip.is_unspecified()).then_some(ArpRecord { ip, mac })
}

fn hex(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

/// `aa:bb:cc:dd:ee:ff`, one or two hex digits per octet.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for o in &mut mac {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// This host's complete ARP entries, read from [`PROC_NET_ARP`].
pub fn sample() -> std::io::Result<Vec<ArpRecord>> {
    Ok(parse_proc_net_arp(&std::fs::read_to_string(PROC_NET_ARP)?))
}

#[derive(Debug, Clone)]
struct Entry {
    record: ArpRecord,
    /// The interval in which it was last reported.
    seen: u64,
    /// The member whose report it is.
    from: String,
}

/// The cluster's shared ARP cache: one MAC per address, the latest its
/// reporter sent; kept in the order addresses were first heard of.
#[derive(Debug, Clone, Default)]
pub struct SharedCache {
    entries: Vec<Entry>,
    /// Address → position in `entries`.
    index: HashMap<Ipv4Addr, usize>,
    /// Entries per reporting member.
    per_sender: HashMap<String, usize>,
}

impl SharedCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges the records of one member's ARPCACHE, received in
    /// interval `now`. An address `from` reported before takes the new
    /// MAC and keeps its place; one another member reported is left as
    /// it is (refreshed if the MAC agrees), so no member can rewrite
    /// another's neighbours; a new one goes last, within `from`'s
    /// [`MAX_PER_SENDER`] and the cache's [`MAX_SHARED`]. Records with
    /// address 0.0.0.0 or MAC 00:00:00:00:00:00 are ignored.
    pub fn learn(&mut self, from: &str, records: &[ArpRecord], now: u64) {
        for r in records {
            if r.ip.is_unspecified() || r.mac == [0; 6] {
                continue;
            }
            match self.index.get(&r.ip) {
                Some(&i) => {
                    let e = &mut self.entries[i];
                    if e.from == from {
                        e.record.mac = r.mac;
                    } else if e.record.mac != r.mac {
                        continue;
                    }
                    e.seen = e.seen.max(now);
                }
                None if self.entries.len() < MAX_SHARED => {
                    let n = self.per_sender.entry(from.to_string()).or_default();
                    if *n >= MAX_PER_SENDER {
                        continue;
                    }
                    *n += 1;
                    self.index.insert(r.ip, self.entries.len());
                    self.entries.push(Entry {
                        record: *r,
                        seen: now,
                        from: from.to_string(),
                    });
                }
                None => {}
            }
        }
    }

    /// Drops the entries last reported [`EXPIRE_INTERVALS`] or more
    /// intervals before `now`; the rest keep their order. Returns how
    /// many were dropped.
    pub fn expire(&mut self, now: u64) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|e| now.saturating_sub(e.seen) < EXPIRE_INTERVALS);
        let dropped = before - self.entries.len();
        if dropped > 0 {
            self.index.clear();
            self.per_sender.clear();
            for (i, e) in self.entries.iter().enumerate() {
                self.index.insert(e.record.ip, i);
                *self.per_sender.entry(e.from.clone()).or_default() += 1;
            }
        }
        dropped
    }

    /// Every entry, in the order their addresses were first heard of.
    pub fn snapshot(&self) -> Vec<ArpRecord> {
        self.entries.iter().map(|e| e.record).collect()
    }

    pub fn get(&self, ip: Ipv4Addr) -> Option<[u8; 6]> {
        self.index.get(&ip).map(|&i| self.entries[i].record.mac)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ip: &str, last: u8) -> ArpRecord {
        ArpRecord {
            ip: ip.parse().unwrap(),
            mac: [0x52, 0x54, 0, 0, 0, last],
        }
    }

    fn ips(v: &[ArpRecord]) -> Vec<String> {
        v.iter().map(|r| r.ip.to_string()).collect()
    }

    /// As a Linux 6.x host shows it: reachable, stale, incomplete
    /// (0x0), failed, permanent (0x6) and published entries.
    const SAMPLE: &str = "\
IP address       HW type     Flags       HW address            Mask     Device
192.168.78.2     0x1         0x2         52:54:00:aa:bb:02     *        eth0
192.168.78.9     0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.3.1         0x1         0x2         02:42:0a:00:03:01     *        docker0
192.168.78.3     0x1         0x6         52:54:00:aa:bb:03     *        eth0
192.168.78.77    0x1         0x0         52:54:00:aa:bb:4d     *        eth0
192.168.78.5     0x1         0xc         52:54:00:aa:bb:05     *        eth0
";

    #[test]
    fn proc_net_arp_keeps_complete_entries_in_file_order() {
        let got = parse_proc_net_arp(SAMPLE);
        assert_eq!(
            got,
            vec![
                ArpRecord {
                    ip: "192.168.78.2".parse().unwrap(),
                    mac: [0x52, 0x54, 0, 0xaa, 0xbb, 2]
                },
                ArpRecord {
                    ip: "10.0.3.1".parse().unwrap(),
                    mac: [0x02, 0x42, 0x0a, 0, 3, 1]
                },
                ArpRecord {
                    ip: "192.168.78.3".parse().unwrap(),
                    mac: [0x52, 0x54, 0, 0xaa, 0xbb, 3]
                },
            ]
        );
    }

    #[test]
    fn proc_net_arp_tolerates_odd_lines() {
        let text = "\
IP address       HW type     Flags       HW address            Mask     Device

garbage
192.168.1.300    0x1         0x2         52:54:00:00:00:01     *        eth0
192.168.1.2      0x1         0x2         52:54:00:00:00:02
192.168.1.3      1           0x2         52:54:00:00:00:03     *        eth0
192.168.1.4      0x1         0xzz        52:54:00:00:00:04     *        eth0
192.168.1.5      0x1         0x2         52:54:00:00:00        *        eth0
192.168.1.6      0x1         0x2         52:54:00:00:00:06:07  *        eth0
192.168.1.7      0x1         0x2         52:54:00:000:00:07    *        eth0
0.0.0.0          0x1         0x2         52:54:00:00:00:08     *        eth0
192.168.1.9      0x1         0x2         0:1:2:a:b:c           *        eth0
192.168.1.10\t0x1\t0x2\t52:54:00:00:00:0a\t*\teth0
192.168.1.11     0x20        0x2         00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33 * ib0
";
        let got = parse_proc_net_arp(text);
        assert_eq!(ips(&got), ["192.168.1.9", "192.168.1.10"]);
        assert_eq!(got[0].mac, [0, 1, 2, 0xa, 0xb, 0xc]);
        assert!(parse_proc_net_arp("").is_empty());
        assert!(parse_proc_net_arp("IP address HW type Flags HW address Mask Device\n").is_empty());
    }

    #[test]
    fn sample_reads_the_kernel_table() {
        // Whatever the host's table holds, it must read without error
        // where /proc is mounted.
        if std::path::Path::new(PROC_NET_ARP).exists() {
            let got = sample().unwrap();
            assert!(got.iter().all(|r| r.mac != [0; 6]));
        }
    }

    #[test]
    fn newest_mac_wins_and_the_first_place_is_kept() {
        let mut c = SharedCache::new();
        c.learn("a", &[rec("10.0.0.1", 1), rec("10.0.0.2", 2)], 0);
        c.learn("a", &[rec("10.0.0.3", 3), rec("10.0.0.1", 9)], 1);
        assert_eq!(
            c.snapshot(),
            vec![rec("10.0.0.1", 9), rec("10.0.0.2", 2), rec("10.0.0.3", 3)]
        );
        assert_eq!(
            c.get("10.0.0.1".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 9])
        );
        assert_eq!(c.get("10.0.0.4".parse().unwrap()), None);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn incomplete_records_are_not_learned() {
        let mut c = SharedCache::new();
        let zero_mac = ArpRecord {
            ip: "10.0.0.1".parse().unwrap(),
            mac: [0; 6],
        };
        c.learn("a", &[zero_mac, rec("0.0.0.0", 1)], 0);
        assert!(c.is_empty());
    }

    #[test]
    fn entries_expire_after_three_silent_intervals() {
        let mut c = SharedCache::new();
        c.learn(
            "a",
            &[rec("10.0.0.1", 1), rec("10.0.0.2", 2), rec("10.0.0.3", 3)],
            10,
        );
        c.learn("a", &[rec("10.0.0.2", 2)], 11);
        assert_eq!(c.expire(12), 0);
        assert_eq!(c.len(), 3);
        // 10.0.0.1 and .3 were last heard of in interval 10.
        assert_eq!(c.expire(13), 2);
        assert_eq!(ips(&c.snapshot()), ["10.0.0.2"]);
        // The index follows the removal.
        assert_eq!(
            c.get("10.0.0.2".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 2])
        );
        assert_eq!(c.get("10.0.0.1".parse().unwrap()), None);
        c.learn("a", &[rec("10.0.0.1", 7), rec("10.0.0.2", 8)], 13);
        assert_eq!(ips(&c.snapshot()), ["10.0.0.2", "10.0.0.1"]);
        assert_eq!(
            c.get("10.0.0.2".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 8])
        );
        assert_eq!(c.expire(16), 2);
        assert!(c.is_empty());
    }

    #[test]
    fn a_late_report_never_makes_an_entry_older() {
        let mut c = SharedCache::new();
        c.learn("a", &[rec("10.0.0.1", 1)], 5);
        c.learn("a", &[rec("10.0.0.1", 2)], 3);
        assert_eq!(c.expire(7), 0);
        // A clock that went backwards keeps everything.
        assert_eq!(c.expire(0), 0);
        assert_eq!(c.snapshot(), vec![rec("10.0.0.1", 2)]);
    }

    #[test]
    fn the_shared_cache_is_bounded() {
        let mut c = SharedCache::new();
        let at = |i: usize| ArpRecord {
            ip: Ipv4Addr::from(0x0a00_0000 + i as u32),
            mac: [2, 0, 0, 0, 0, 1],
        };
        let senders = MAX_SHARED / MAX_PER_SENDER;
        for k in 0..=senders {
            let batch: Vec<ArpRecord> = (k * MAX_PER_SENDER..(k + 1) * MAX_PER_SENDER)
                .map(at)
                .collect();
            c.learn(&format!("m{k}"), &batch, 0);
        }
        assert_eq!(c.len(), MAX_SHARED);
        // Known addresses still take their reporter's new MACs.
        c.learn(
            "m0",
            &[ArpRecord {
                mac: [2, 0, 0, 0, 0, 2],
                ..at(0)
            }],
            1,
        );
        assert_eq!(c.get(at(0).ip), Some([2, 0, 0, 0, 0, 2]));
        assert_eq!(c.expire(3), MAX_SHARED - 1);
        c.learn("late", &[at(MAX_SHARED), at(MAX_SHARED + 1)], 3);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn one_member_cannot_fill_the_cache_or_rewrite_another_s_entries() {
        let mut c = SharedCache::new();
        c.learn("#a#d1", &[rec("10.0.0.1", 1)], 0);
        // Another member reports the same address with another MAC: the
        // first reporter's stays.
        c.learn("#b#d2", &[rec("10.0.0.1", 66), rec("10.0.0.2", 2)], 0);
        assert_eq!(
            c.get("10.0.0.1".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 1])
        );
        // A flood from one member stops at its share; the others still
        // get theirs in.
        let flood: Vec<ArpRecord> = (0..MAX_PER_SENDER as u32 + 100)
            .map(|i| ArpRecord {
                ip: Ipv4Addr::from(0x0b00_0000 + i),
                mac: [2, 0, 0, 0, 0, 9],
            })
            .collect();
        c.learn("#b#d2", &flood, 0);
        assert_eq!(c.len(), 1 + MAX_PER_SENDER);
        c.learn("#a#d1", &[rec("10.0.0.3", 3)], 0);
        assert_eq!(
            c.get("10.0.0.3".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 3])
        );
        // An agreeing report keeps another's entry alive; once expired,
        // the address is anyone's again.
        c.learn("#b#d2", &[rec("10.0.0.1", 1)], 2);
        assert_eq!(c.expire(3), MAX_PER_SENDER + 1);
        assert_eq!(
            c.get("10.0.0.1".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 1])
        );
        c.learn("#b#d2", &[rec("10.0.0.1", 66)], 5);
        c.expire(5);
        c.learn("#b#d2", &[rec("10.0.0.1", 66)], 6);
        assert_eq!(
            c.get("10.0.0.1".parse().unwrap()),
            Some([0x52, 0x54, 0, 0, 0, 66])
        );
    }
}
