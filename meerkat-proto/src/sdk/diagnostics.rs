//! [`Diagnostics`]: what the engine recovered from, counted, so that a
//! misbehaving server is visible to the user and not only in debug logs.

use std::collections::VecDeque;

use crate::rpc::Diagnostic;

/// How many recent samples a [`Diagnostics`] snapshot keeps.
pub const DIAGNOSTIC_SAMPLES: usize = 16;

/// How many bytes of text a [`DiagnosticSample`] keeps.
const SAMPLE_TEXT: usize = 256;

/// A kind of thing the engine recovered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A stdout line that was not a JSON-RPC message (a log line) was
    /// skipped.
    SkippedLine,
    /// A line longer than the frame limit was discarded.
    OversizedFrame,
    /// A response matched no waiting request (late, unknown, duplicate).
    UnmatchedResponse,
    /// A JSON object that was not a usable JSON-RPC message, or an error
    /// answer without an id.
    InvalidMessage,
    /// A line with invalid UTF-8 was decoded lossily (U+FFFD for each bad
    /// sequence) rather than ignored.
    LossyUtf8,
    /// An event of a session this client never created, opened or ran a
    /// turn on.
    UnknownSessionEvent,
    /// A session event too malformed to route or decode.
    UndecodableEvent,
    /// Routing state of an unknown session was evicted (the cap of
    /// sessions kept for strangers was reached).
    UnknownSessionEvicted,
    /// A request was refused because the bytes waiting for the server's
    /// stdin reached the bound (`Error::WriteQueueFull`).
    WriteQueueFull,
    /// A request's frame was dropped before it was written: the request
    /// timed out or was cancelled while the server was not reading.
    UnwrittenFrameDropped,
    /// A request of the server (`tool/execute`, or a method the client does
    /// not serve) was neither run nor answered: it came while the bytes
    /// waiting for the server's stdin were over the bound (the server is
    /// not reading its answers).
    ServerRequestDropped,
}

impl DiagnosticKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 11] = [
        Self::SkippedLine,
        Self::OversizedFrame,
        Self::UnmatchedResponse,
        Self::InvalidMessage,
        Self::LossyUtf8,
        Self::UnknownSessionEvent,
        Self::UndecodableEvent,
        Self::UnknownSessionEvicted,
        Self::WriteQueueFull,
        Self::UnwrittenFrameDropped,
        Self::ServerRequestDropped,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The kind of a connection-level [`Diagnostic`].
    #[must_use]
    pub fn of(diagnostic: &Diagnostic) -> Self {
        match diagnostic {
            Diagnostic::SkippedLine { .. } => Self::SkippedLine,
            Diagnostic::FrameTooLong { .. } => Self::OversizedFrame,
            Diagnostic::UnmatchedResponse { .. } => Self::UnmatchedResponse,
            Diagnostic::LossyUtf8 { .. } => Self::LossyUtf8,
            Diagnostic::UnknownSessionEvent { .. } => Self::UnknownSessionEvent,
            Diagnostic::UndecodableEvent { .. } => Self::UndecodableEvent,
            _ => Self::InvalidMessage,
        }
    }
}

/// One recent diagnostic: its kind and what it was about (truncated).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiagnosticSample {
    /// The kind.
    pub kind: DiagnosticKind,
    /// What it was about: the start of the skipped line, the unmatched id,
    /// the session id, the reason (at most 256 bytes).
    pub detail: String,
}

/// A snapshot of what the engine recovered from on one connection: counts
/// by kind, the last few samples, and the bytes waiting for the server's
/// stdin. From `MeerkatClient::diagnostics` on both transports.
///
/// ```no_run
/// use meerkat_proto::sdk::{DiagnosticKind, Diagnostics};
///
/// fn report(d: &Diagnostics) {
///     if d.count(DiagnosticKind::SkippedLine) > 0 {
///         eprintln!("the server wrote {} log lines to stdout", d.count(DiagnosticKind::SkippedLine));
///     }
///     for sample in &d.samples {
///         eprintln!("{:?}: {}", sample.kind, sample.detail);
///     }
///     eprintln!("{} of {} bytes wait for stdin", d.output_bytes, d.output_limit);
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    counts: [u64; DiagnosticKind::ALL.len()],
    /// The last [`DIAGNOSTIC_SAMPLES`] diagnostics, oldest first.
    pub samples: Vec<DiagnosticSample>,
    /// Bytes waiting for the server's stdin now (queued, and the batch the
    /// writer is writing).
    pub output_bytes: usize,
    /// The bound on them ([`ConnectOptions::max_output_bytes`](crate::ConnectOptions::max_output_bytes)).
    pub output_limit: usize,
    /// The most bytes that ever waited for the server's stdin at once.
    pub output_peak: usize,
    /// Sessions whose routing state the engine keeps now (the client's
    /// own, and a bounded number of strangers).
    pub tracked_sessions: usize,
}

impl Diagnostics {
    /// How many diagnostics of `kind` there were.
    #[must_use]
    pub fn count(&self, kind: DiagnosticKind) -> u64 {
        self.counts[kind.index()]
    }

    /// Every kind with a non-zero count.
    pub fn counts(&self) -> impl Iterator<Item = (DiagnosticKind, u64)> + '_ {
        DiagnosticKind::ALL
            .into_iter()
            .map(|k| (k, self.count(k)))
            .filter(|(_, n)| *n > 0)
    }

    /// The total of every count.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// The engine's counters (pure data).
#[derive(Debug, Default)]
pub(super) struct Counters {
    counts: [u64; DiagnosticKind::ALL.len()],
    samples: VecDeque<DiagnosticSample>,
    pub(super) output_peak: usize,
    /// The connection's eviction count already reported.
    pub(super) evictions_seen: u64,
}

impl Counters {
    /// Counts one diagnostic; the first of each kind is a `tracing` warning.
    pub(super) fn record(&mut self, kind: DiagnosticKind, detail: impl FnOnce() -> String) {
        let count = &mut self.counts[kind.index()];
        *count += 1;
        let mut detail = detail();
        if detail.len() > SAMPLE_TEXT {
            let mut end = SAMPLE_TEXT;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
        }
        if *count == 1 {
            tracing::warn!(?kind, %detail, "meerkat: first diagnostic of its kind (see MeerkatClient::diagnostics)");
        } else {
            tracing::debug!(?kind, %detail, "meerkat: diagnostic");
        }
        if self.samples.len() == DIAGNOSTIC_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(DiagnosticSample { kind, detail });
    }

    pub(super) fn snapshot(&self) -> Diagnostics {
        Diagnostics {
            counts: self.counts,
            samples: self.samples.iter().cloned().collect(),
            output_peak: self.output_peak,
            ..Diagnostics::default()
        }
    }
}
