//! The shared scenario list (`tests/scenarios/`) driven through
//! `meerkat-transport-blocking`. `sdk_tokio` drives the same list through
//! the tokio transport: one list, two transports.
#![allow(clippy::while_let_on_iterator)] // The shared scenarios call `next()` so the same text awaits in tokio.

use meerkat_transport_blocking as sdk;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Longest a scenario may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(120);

/// Blocking calls are plain calls.
macro_rules! aw {
    ($e:expr) => {
        $e
    };
}

/// A scenario is a `#[test]` run on a watchdog thread: a hang fails it.
macro_rules! scenario {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            meerkat_tests::watchdog(stringify!($name), LIMIT, move || $body);
        }
    };
}

/// Runs `body` for every item on threads of its own; the results in order.
macro_rules! spawn_all {
    ($items:expr, |$x:pat_param| $body:block) => {{
        let handles: Vec<_> = $items
            .into_iter()
            .map(|$x| std::thread::spawn(move || $body))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect::<Vec<_>>()
    }};
}

/// A callback tool handler; `[a, b]` names captures (cloned per call in
/// the tokio twin, borrowed here).
macro_rules! handler {
    ([$($cap:ident),*] |$a:pat_param| $body:block) => {
        move |$a: Value| $body
    };
    (|$a:pat_param| $body:block) => {
        move |$a: Value| $body
    };
}

/// Sleeps.
macro_rules! pause {
    ($d:expr) => {
        std::thread::sleep($d)
    };
}

include!("../scenarios/fake.rs");
include!("../scenarios/real.rs");
