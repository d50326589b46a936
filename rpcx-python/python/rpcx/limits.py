"""Frame limits applied while reading from the network."""

from __future__ import annotations

import dataclasses
from typing import Tuple

__all__ = ["Limits"]


@dataclasses.dataclass(frozen=True)
class Limits:
    """Limits checked before anything a length field claims is allocated. Go applies none;
    rpcx does, with these defaults."""

    #: Largest frame (bytes after the 16-byte prefix).
    max_frame_len: int = 16 << 20
    #: Largest payload after gzip decompression.
    max_decompressed_len: int = 16 << 20
    #: Most metadata pairs in one frame.
    max_metadata_entries: int = 256
    #: Largest encoded metadata section.
    max_metadata_bytes: int = 256 << 10

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{f.name} must be an int >= 0, got {v!r}")
        if self.max_frame_len > 0xFFFFFFFF:
            raise ValueError("max_frame_len must fit in 32 bits")

    def as_tuple(self) -> Tuple[int, int, int, int]:
        return (
            self.max_frame_len,
            self.max_decompressed_len,
            self.max_metadata_entries,
            self.max_metadata_bytes,
        )
