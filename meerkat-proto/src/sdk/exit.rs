//! The exit watch: a child that exited while a process it started still
//! holds its stdout open would otherwise leave every waiter hanging, as
//! the output never ends.

use std::time::{Duration, Instant};

/// The rule: once the child has exited, its output ends after [`QUIET`]
/// without a byte. Transports call [`Engine::exit_tick`] every
/// [`INTERVAL`] with whether the child exited.
///
/// [`QUIET`]: Self::QUIET
/// [`INTERVAL`]: Self::INTERVAL
/// [`Engine::exit_tick`]: super::Engine::exit_tick
///
/// ```
/// use std::time::{Duration, Instant};
/// use meerkat_proto::sdk::ExitWatch;
///
/// let mut watch = ExitWatch::default();
/// let t0 = Instant::now();
/// assert!(!watch.tick(t0, true, false)); // just exited: wait
/// assert!(!watch.tick(t0 + Duration::from_millis(300), true, true)); // output came: wait again
/// assert!(watch.tick(t0 + Duration::from_millis(900), true, false)); // quiet for 600 ms: end it
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExitWatch {
    /// Since when the exited child's output has been quiet.
    quiet_since: Option<Instant>,
}

impl ExitWatch {
    /// How long an exited child's output may stay quiet before it is ended.
    pub const QUIET: Duration = Duration::from_millis(500);

    /// How often transports tick.
    pub const INTERVAL: Duration = Duration::from_millis(50);

    /// One look at `now`: `exited` tells whether the child has exited,
    /// `output_seen` whether bytes came since the last tick. Returns
    /// whether to end the output now.
    pub fn tick(&mut self, now: Instant, exited: bool, output_seen: bool) -> bool {
        if !exited || output_seen {
            self.quiet_since = exited.then_some(now);
            return false;
        }
        let since = *self.quiet_since.get_or_insert(now);
        now.saturating_duration_since(since) >= Self::QUIET
    }
}
