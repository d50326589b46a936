"""TLS and mutual TLS settings: :class:`TLSConfig`, passed as ``tls=`` to :class:`~rpcx.Server`,
:class:`~rpcx.Client`, :class:`~rpcx.AsyncClient`, :class:`~rpcx.XClient`,
:class:`~rpcx.AsyncXClient` and the :class:`~rpcx.Etcd` and :class:`~rpcx.Consul`
discoveries."""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple, Union

from . import _rpcx

__all__ = ["TLSConfig"]

_Path = Union[str, "os.PathLike[str]"]


def _read(what: str, path: Optional[_Path]) -> Optional[bytes]:
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike) or None, got {type(path).__name__}")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise OSError(e.errno, f"TLS {what} {os.fspath(path)!r}: {e.strerror}") from e


@dataclasses.dataclass(frozen=True)
class TLSConfig:
    """TLS settings, read from PEM files when the object is made (a missing file raises
    :class:`OSError` naming it; a file that is not the PEM expected, a key that does not
    belong to its certificate or a malformed ``server_name`` raise :class:`ValueError`).

    On a **client** (``Client``, ``AsyncClient``, ``XClient``, ``AsyncXClient``, ``Etcd``,
    ``Consul``):

    - ``ca_file``: the CA certificates to trust (default: the system's CA bundle,
      ``SSL_CERT_FILE`` or the usual files under ``/etc/ssl``);
    - ``cert_file`` and ``key_file``: a client certificate for servers that require one
      (mutual TLS);
    - ``server_name``: the name the server's certificate must carry (default: the host of
      the address dialed; needed for ``unix@`` addresses).

    On a **server** (``Server``):

    - ``cert_file`` and ``key_file`` (required): the server's certificate chain and key;
    - ``ca_file``: verify client certificates against these CAs (mutual TLS);
    - ``require_client_cert``: refuse clients without a certificate (needs ``ca_file``);
      without it, certificates that clients do present must still verify.

    A refused handshake raises :class:`~rpcx.RpcConnectionError` with the reason, e.g.
    ``invalid peer certificate: UnknownIssuer`` (untrusted CA), ``certificate expired``,
    ``certificate not valid for name ...``, or, from a mutual-TLS server, ``received fatal
    alert: CertificateRequired`` (on the first call: TLS 1.3 clients finish their handshake
    before the server checks them).
    """

    cert_file: Optional[_Path] = None
    key_file: Optional[_Path] = None
    ca_file: Optional[_Path] = None
    server_name: Optional[str] = None
    require_client_cert: bool = False
    _pem: Tuple[Optional[bytes], Optional[bytes], Optional[bytes]] = dataclasses.field(
        init=False, repr=False, compare=False, default=(None, None, None)
    )

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TLSConfig: cert_file and key_file go together")
        if self.server_name is not None and not isinstance(self.server_name, str):
            raise TypeError(f"server_name must be a str or None, got {type(self.server_name).__name__}")
        if not isinstance(self.require_client_cert, bool):
            raise TypeError("require_client_cert must be a bool")
        if self.require_client_cert and self.ca_file is None:
            raise ValueError(
                "TLSConfig: require_client_cert needs ca_file (the CA client certificates must chain to)"
            )
        pem = (
            _read("ca_file", self.ca_file),
            _read("cert_file", self.cert_file),
            _read("key_file", self.key_file),
        )
        object.__setattr__(self, "_pem", pem)
        _rpcx.tls_check(self._material())

    def _material(
        self,
    ) -> Tuple[Optional[bytes], Optional[bytes], Optional[bytes], Optional[str], bool]:
        """What the extension takes: ``(ca, cert, key, server_name, require_client_cert)``."""
        ca, cert, key = self._pem
        return (ca, cert, key, self.server_name, self.require_client_cert)


def material(
    tls: Optional[TLSConfig], side: str
) -> Optional[Tuple[Optional[bytes], Optional[bytes], Optional[bytes], Optional[str], bool]]:
    """The extension's form of the ``tls=`` argument of a ``side`` (``"client"`` or
    ``"server"``): :class:`TypeError` for anything but a :class:`TLSConfig` or ``None``,
    :class:`ValueError` for a setting of the other side (or a server without a certificate)."""
    if tls is None:
        return None
    if not isinstance(tls, TLSConfig):
        raise TypeError(f"tls must be an rpcx.TLSConfig or None, got {type(tls).__name__}")
    if side == "server":
        if tls.cert_file is None:
            raise ValueError("a server's TLSConfig needs cert_file and key_file")
        if tls.server_name is not None:
            raise ValueError("server_name is a client setting; a server's TLSConfig cannot use it")
    elif tls.require_client_cert:
        raise ValueError("require_client_cert is a server setting; a client's TLSConfig cannot use it")
    return tls._material()
