//! The reader's hand-written `session/event` scan against the serde scan
//! it stands in for: on any line it reads, it must read what serde reads
//! (it may give up; it may never disagree or panic).
//!
//! Seed it with event lines (`fuzz/corpus/route_scan/`, or the fixtures'
//! `session/event` lines): mutations of the usual shape are what matter.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    meerkat_proto::rpc::__fuzz_route_scan(line);
});
