//! The Spread client's decoder on any byte stream, split anywhere: the
//! same messages whatever the split, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wackamole::spread::wire::message::{Decoder, Message};

fn decode(chunks: &mut dyn Iterator<Item = &[u8]>, major: u8) -> (Vec<Message>, bool) {
    let mut d = Decoder::new(major);
    let mut out = Vec::new();
    for c in chunks {
        d.feed(c);
        loop {
            match d.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let major = if split & 0x80 != 0 { 3 } else { 4 };
    let n = usize::from(split & 0x7f).max(1);
    let whole = decode(&mut std::iter::once(rest), major);
    let pieces = decode(&mut rest.chunks(n), major);
    assert_eq!(whole, pieces, "the split changed what was decoded");
});
