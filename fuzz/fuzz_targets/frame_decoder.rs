//! Raw bytes into `FrameDecoder` and `Client::handle_bytes`: no panic, no
//! line longer than the limit, never more than the limit buffered, and the
//! same frames and events whatever the chunking.
//!
//! Input layout: 2 bytes of frame limit (mod 1024, so oversized lines are
//! common), 1 byte of chunk size, then the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_proto::rpc::{Client, Config, Frame, FrameDecoder};

#[derive(Debug, PartialEq)]
enum Owned {
    Line(Vec<u8>),
    TooLong(usize),
}

fn frames(limit: usize, chunks: &[&[u8]]) -> Vec<Owned> {
    let mut decoder = FrameDecoder::new(limit);
    let mut out = Vec::new();
    let mut push = |frame: Frame<'_>| match frame {
        Frame::Line(line) => {
            assert!(
                line.len() <= limit,
                "line of {} bytes over limit {limit}",
                line.len()
            );
            assert!(!line.contains(&b'\n'), "a line contains a newline");
            out.push(Owned::Line(line.to_vec()));
        }
        Frame::TooLong { limit: l } => {
            assert_eq!(l, limit);
            out.push(Owned::TooLong(l));
        }
        _ => unreachable!("a frame kind this target does not know"),
    };
    for chunk in chunks {
        decoder.decode(chunk, &mut push);
        assert!(decoder.buffered_len() <= limit, "buffered over the limit");
    }
    decoder.finish(&mut push);
    assert_eq!(decoder.buffered_len(), 0);
    out
}

fn events(limit: usize, chunks: &[&[u8]]) -> Vec<String> {
    let mut client = Client::new(Config::default().max_frame_len(limit));
    for _ in 0..4 {
        let _ = client.send_request("m", None, None).expect("fresh client");
    }
    let mut out = Vec::new();
    for chunk in chunks {
        client.handle_bytes(chunk);
        out.extend(std::iter::from_fn(|| client.poll_event()).map(|e| format!("{e:?}")));
    }
    client.handle_eof();
    out.extend(std::iter::from_fn(|| client.poll_event()).map(|e| format!("{e:?}")));
    assert!(client.is_closed());
    assert_eq!(client.pending_len(), 0);
    assert!(out.last().is_some_and(|e| e.starts_with("Closed")));
    out
}

fuzz_target!(|data: &[u8]| {
    let [a, b, size, stream @ ..] = data else {
        return;
    };
    let limit = usize::from(u16::from_le_bytes([*a, *b]) % 1024);
    let chunks: Vec<&[u8]> = stream.chunks(usize::from(*size) + 1).collect();
    assert_eq!(frames(limit, &chunks), frames(limit, &[stream]));
    assert_eq!(events(limit, &chunks), events(limit, &[stream]));
});
