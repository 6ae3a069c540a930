//! The shared scenario list (`tests/scenarios/`) driven through
//! `meerkat-transport-tokio`. `sdk_blocking` drives the same list through
//! the blocking transport: one list, two transports.

use meerkat_transport_tokio as sdk;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Longest a scenario may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(120);

/// Async calls are awaited.
macro_rules! aw {
    ($e:expr) => {
        $e.await
    };
}

/// A scenario is a multi-threaded tokio test under a timeout: a hang fails it.
macro_rules! scenario {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            if tokio::time::timeout(LIMIT, async move $body).await.is_err() {
                panic!("scenario {} hung for {:?}", stringify!($name), LIMIT);
            }
        }
    };
}

/// Runs `body` for every item on tasks of its own; the results in order.
macro_rules! spawn_all {
    ($items:expr, |$x:pat_param| $body:block) => {{
        let handles: Vec<_> = $items
            .into_iter()
            .map(|$x| tokio::spawn(async move $body))
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("worker panicked"));
        }
        out
    }};
}

/// A callback tool handler; `[a, b]` names captures cloned per call.
macro_rules! handler {
    ([$($cap:ident),*] |$a:pat_param| $body:block) => {
        move |$a: Value| {
            $(let $cap = $cap.clone();)*
            async move $body
        }
    };
    (|$a:pat_param| $body:block) => {
        move |$a: Value| async move $body
    };
}

/// Sleeps.
macro_rules! pause {
    ($d:expr) => {
        tokio::time::sleep($d).await
    };
}

include!("../scenarios/fake.rs");
include!("../scenarios/real.rs");
