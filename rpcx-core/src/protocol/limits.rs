//! Size limits applied while decoding (and encoding) frames.

/// Limits checked by the decoder before it allocates what a length field claims.
///
/// Go applies none of these by default; rpcx does, with these defaults:
///
/// | limit | default |
/// |---|---|
/// | [`max_frame_len`](Limits::max_frame_len) (bytes after the length field) | 16 MiB |
/// | [`max_decompressed_len`](Limits::max_decompressed_len) (inflated payload) | 16 MiB |
/// | [`max_metadata_entries`](Limits::max_metadata_entries) | 256 pairs |
/// | [`max_metadata_bytes`](Limits::max_metadata_bytes) (encoded metadata section) | 256 KiB |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted value of the frame's total-length field (bytes after the 16-byte prefix).
    pub max_frame_len: u32,
    /// Largest accepted payload after gzip decompression.
    pub max_decompressed_len: usize,
    /// Most metadata pairs in one frame.
    pub max_metadata_entries: usize,
    /// Largest encoded metadata section in one frame.
    pub max_metadata_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

impl Limits {
    /// The defaults listed on [`Limits`].
    pub const DEFAULT: Limits = Limits {
        max_frame_len: 16 << 20,
        max_decompressed_len: 16 << 20,
        max_metadata_entries: 256,
        max_metadata_bytes: 256 << 10,
    };

    /// No limits beyond the wire format's own `u32` fields (Go's behaviour; not recommended
    /// for anything that reads from a network).
    pub const UNLIMITED: Limits = Limits {
        max_frame_len: u32::MAX,
        max_decompressed_len: usize::MAX,
        max_metadata_entries: usize::MAX,
        max_metadata_bytes: usize::MAX,
    };

    /// Sets [`max_frame_len`](Limits::max_frame_len).
    pub const fn with_max_frame_len(mut self, n: u32) -> Self {
        self.max_frame_len = n;
        self
    }

    /// Sets [`max_decompressed_len`](Limits::max_decompressed_len).
    pub const fn with_max_decompressed_len(mut self, n: usize) -> Self {
        self.max_decompressed_len = n;
        self
    }

    /// Sets [`max_metadata_entries`](Limits::max_metadata_entries).
    pub const fn with_max_metadata_entries(mut self, n: usize) -> Self {
        self.max_metadata_entries = n;
        self
    }

    /// Sets [`max_metadata_bytes`](Limits::max_metadata_bytes).
    pub const fn with_max_metadata_bytes(mut self, n: usize) -> Self {
        self.max_metadata_bytes = n;
        self
    }
}
