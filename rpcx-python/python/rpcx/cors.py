"""Cross-origin resource sharing for the HTTP gateway and JSON-RPC 2.0 that every
:class:`~rpcx.Server` port serves: :class:`CorsOptions`, passed as ``cors=``."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence, Tuple

from . import _rpcx

__all__ = ["CorsOptions"]

#: The characters of an HTTP token (RFC 9110 ``tchar``): method and header names.
_TCHAR = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
)


def _entries(name: str, value: Any, kind: str) -> Tuple[str, ...]:
    """``value`` as a tuple of checked strings; ``kind`` is ``"origin"``, ``"token"`` or
    ``"header"`` (a token or ``*``)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"CorsOptions.{name} must be a list or tuple of str, got {type(value).__name__}"
        )
    out = []
    for v in value:
        if not isinstance(v, str):
            raise TypeError(f"CorsOptions.{name} entries must be str, got {type(v).__name__}")
        if not v:
            raise ValueError(f"CorsOptions.{name}: an entry is empty")
        if kind == "origin":
            if not all("!" <= c <= "~" for c in v):
                raise ValueError(
                    f"CorsOptions.{name}: {v!r} must be visible ASCII without spaces "
                    "(an origin such as 'https://app.example.com', or '*')"
                )
        elif not (kind == "header" and v == "*") and not all(c in _TCHAR for c in v):
            raise ValueError(
                f"CorsOptions.{name}: {v!r} is not an HTTP token "
                "(letters, digits and !#$%&'*+-.^_`|~)"
            )
        out.append(v)
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class CorsOptions:
    """CORS for the gateway and JSON-RPC (Go's ``server.SetCORS``, with the semantics of
    the ``rs/cors`` package). Without it (``cors=None``, the default) responses carry no
    ``Access-Control-*`` headers.

    - ``allowed_origins``: origins allowed (``"https://app.example.com"``); ``"*"`` allows
      every origin and one ``*`` inside an entry is a wildcard
      (``"https://*.example.com"``); compared without regard to case. Empty allows every
      origin, as in ``rs/cors``.
    - ``allowed_methods``: methods a cross-origin request may use (compared in capitals:
      ``"put"`` allows PUT); empty means GET, POST and HEAD.
    - ``allowed_headers``: request headers a cross-origin request may carry; ``"*"`` allows
      any; empty means Accept, Content-Type and X-Requested-With.
    - ``exposed_headers``: response headers scripts may read
      (``Access-Control-Expose-Headers``).
    - ``allow_credentials``: send ``Access-Control-Allow-Credentials: true``.
    - ``max_age``: ``Access-Control-Max-Age`` of preflight answers, in whole seconds (0 sends
      none).

    Lists are stored as tuples. A wrong type raises :class:`TypeError`; an empty entry, one
    with spaces or control characters, a method or header that is not an HTTP token, or a
    ``max_age`` outside ``0..2**32-1`` raise :class:`ValueError`.
    """

    allowed_origins: Sequence[str] = ()
    allowed_methods: Sequence[str] = ()
    allowed_headers: Sequence[str] = ()
    exposed_headers: Sequence[str] = ()
    allow_credentials: bool = False
    max_age: int = 0

    def __post_init__(self) -> None:
        for name, kind in (
            ("allowed_origins", "origin"),
            ("allowed_methods", "token"),
            ("allowed_headers", "header"),
            ("exposed_headers", "token"),
        ):
            object.__setattr__(self, name, _entries(name, getattr(self, name), kind))
        if not isinstance(self.allow_credentials, bool):
            raise TypeError(
                "CorsOptions.allow_credentials must be a bool, "
                f"got {type(self.allow_credentials).__name__}"
            )
        if not isinstance(self.max_age, int) or isinstance(self.max_age, bool):
            raise TypeError(
                f"CorsOptions.max_age must be an int (seconds), got {type(self.max_age).__name__}"
            )
        if not 0 <= self.max_age <= 0xFFFFFFFF:
            raise ValueError(f"CorsOptions.max_age must be in 0..4294967295, got {self.max_age}")

    @classmethod
    def allow_all(cls) -> CorsOptions:
        """Go's ``server.AllowAllCORSOptions()``: every origin, the methods HEAD, GET, POST,
        PUT, PATCH and DELETE, any request header, no credentials."""
        origins, methods, headers, exposed, credentials, max_age = _rpcx.cors_allow_all()
        return cls(origins, methods, headers, exposed, credentials, max_age)

    def _as_tuple(
        self,
    ) -> Tuple[list[str], list[str], list[str], list[str], bool, int]:
        return (
            list(self.allowed_origins),
            list(self.allowed_methods),
            list(self.allowed_headers),
            list(self.exposed_headers),
            self.allow_credentials,
            self.max_age,
        )
