//! Limits of the JSON-RPC engine.

/// Default for [`Config::max_frame_len`]: 64 MiB, the frame cap of `rkat-rpc` 0.9.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Default for [`Config::max_pending`].
pub const DEFAULT_MAX_PENDING: usize = 65_536;

/// Limits of a [`Client`](super::Client).
///
/// Built from [`Config::default`] and by-value setters:
///
/// ```
/// # use meerkat_proto::rpc::Config;
/// let config = Config::default().max_frame_len(1 << 20).max_pending(128);
/// assert_eq!(config.max_frame_len, 1 << 20);
/// assert_eq!(config.max_pending, 128);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The longest line accepted from the peer, in bytes, not counting its
    /// `\n`. Default [`DEFAULT_MAX_FRAME_LEN`] (64 MiB).
    ///
    /// A longer line is discarded up to its newline and reported as
    /// [`Diagnostic::FrameTooLong`](super::Diagnostic::FrameTooLong); it is
    /// never buffered whole, and the connection goes on with the next line.
    /// (0.5.x has no limit of its own; 0.9 closes the connection instead.)
    pub max_frame_len: usize,
    /// The most requests that may be pending at once. Default
    /// [`DEFAULT_MAX_PENDING`] (65 536).
    ///
    /// [`Client::send_request`](super::Client::send_request) beyond it fails
    /// with [`EncodeError::TooManyPending`](super::EncodeError::TooManyPending)
    /// and sends nothing. It is a backstop against a caller that never lets
    /// requests resolve, not a flow-control mechanism.
    pub max_pending: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}

impl Config {
    /// Sets [`Config::max_frame_len`].
    #[must_use]
    pub fn max_frame_len(mut self, bytes: usize) -> Self {
        self.max_frame_len = bytes;
        self
    }

    /// Sets [`Config::max_pending`].
    #[must_use]
    pub fn max_pending(mut self, requests: usize) -> Self {
        self.max_pending = requests;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::default();
        assert_eq!(config.max_frame_len, 64 * 1024 * 1024);
        assert_eq!(config.max_pending, 65_536);
        assert_eq!(config.clone().max_frame_len(1).max_frame_len, 1);
        assert_eq!(config.max_pending(2).max_pending, 2);
    }
}
