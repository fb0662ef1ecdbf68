//! Reading the byte captures of `tests/data/spread-5.0.1/*.txt` (real
//! Spread 5.0.1 sessions) for the golden tests.

/// One direction of one client's session, as one byte stream.
#[derive(Debug, Default, Clone)]
pub struct Stream {
    pub to_daemon: Vec<u8>,
    pub to_client: Vec<u8>,
}

/// The streams of each client in a capture, by client label (`A`, `B`,
/// ...; `-` where the capture has one unnamed client).
pub fn streams(text: &str) -> Vec<(String, Stream)> {
    let mut out: Vec<(String, Stream)> = Vec::new();
    let mut current: Option<(String, bool)> = None;
    for line in text.lines() {
        if line.starts_with("## Part 2") {
            break;
        }
        let trimmed = line.trim();
        if line.starts_with(|c: char| c.is_ascii_digit()) {
            current = None;
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.iter().any(|w| w.starts_with("len=")) {
                continue;
            }
            let to_daemon = words.get(1) == Some(&"C->S");
            let label = words
                .iter()
                .find_map(|w| w.strip_prefix("client:"))
                .map_or("-".to_string(), |c| {
                    c.split('(').next().unwrap_or("-").to_string()
                });
            if !out.iter().any(|(l, _)| *l == label) {
                out.push((label.clone(), Stream::default()));
            }
            current = Some((label, to_daemon));
        } else if let Some((label, to_daemon)) = &current {
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
                let bytes = (0..trimmed.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&trimmed[i..i + 2], 16).expect("hex"));
                let s = &mut out.iter_mut().find(|(l, _)| l == label).expect("added").1;
                if *to_daemon {
                    s.to_daemon.extend(bytes);
                } else {
                    s.to_client.extend(bytes);
                }
            }
        }
    }
    out
}

pub const JOIN_MULTICAST_LEAVE: &str =
    include_str!("../../../tests/data/spread-5.0.1/join-multicast-leave.txt");
pub const PARTITION_MERGE: &str =
    include_str!("../../../tests/data/spread-5.0.1/partition-merge.txt");
pub const AGREED7: &str = include_str!("../../../tests/data/spread-5.0.1/agreed7-join-leave.txt");
pub const DISCONNECT_DUPNAME: &str =
    include_str!("../../../tests/data/spread-5.0.1/disconnect-dupname.txt");
