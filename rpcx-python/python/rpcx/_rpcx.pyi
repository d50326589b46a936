"""The Rust extension: it moves bytes; the Python package encodes and decodes."""

from os import PathLike
from typing import Callable, Iterable, Optional, Union, final

from typing_extensions import disjoint_base

from .tls import TLSConfig

__all__ = [
    "RawClient",
    "RawServer",
    "StreamJob",
    "RawUpload",
    "UploadJob",
    "DownloadJob",
    "RawDownload",
    "Job",
    "RawContext",
    "CompletionQueue",
    "CallHandle",
    "RawXClient",
    "Peer",
    "MultipleServers",
    "StoreDiscovery",
    "Etcd",
    "Consul",
    "Redis",
    "Zookeeper",
    "Dns",
    "Registry",
    "EtcdRegistry",
    "ConsulRegistry",
    "RedisRegistry",
    "RegistryStatus",
    "ZookeeperRegistry",
    "SelectRequest",
    "RawPushes",
    "IpFilter",
    "RateLimit",
    "set_worker_threads",
    "register_compressor",
    "unregister_compressor",
    "compressor_available",
    "_log_start",
    "_log_set_level",
    "_log_next",
    "_log_stop",
    "_log_dropped",
    "tls_check",
    "cors_allow_all",
    "__version__",
]

__version__: str

_Limits = tuple[int, int, int, int]
#: ``TLSConfig._material()``: ``(ca, cert, key, server_name, require_client_cert)``.
_Tls = tuple[Optional[bytes], Optional[bytes], Optional[bytes], Optional[str], bool]

#: ``CorsOptions._as_tuple()``: ``(origins, methods, headers, exposed, credentials, max_age)``.
_Cors = tuple[list[str], list[str], list[str], list[str], bool, int]

def set_worker_threads(n: int) -> None: ...
def register_compressor(
    compress_type: int,
    compress: Callable[[bytes], Union[bytes, bytearray]],
    decompress: Callable[[bytes, int], Union[bytes, bytearray]],
) -> None: ...
def unregister_compressor(compress_type: int) -> bool: ...
def compressor_available(compress_type: int) -> bool: ...

#: One log event: ``(logging level, target, text, message, fields)``.
_LogEvent = tuple[int, str, str, str, list[tuple[str, str]]]

def _log_start() -> bool: ...
def _log_set_level(level: int) -> None: ...
def _log_next(timeout: float) -> Optional[_LogEvent]: ...
def _log_stop() -> None: ...
def _log_dropped() -> int: ...
def cors_allow_all() -> _Cors: ...
def tls_check(tls: Union[TLSConfig, _Tls]) -> None: ...

@final
class CompletionQueue:
    def __new__(cls) -> CompletionQueue: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def drain(self) -> list[tuple[int, bool, object]]: ...

@final
class CallHandle:
    def cancel(self) -> None: ...

@final
class RawClient:
    @staticmethod
    def connect(
        address: str,
        serialize_type: int = 3,
        timeout: Optional[float] = None,
        connect_timeout: float = 1.0,
        auth: Optional[str] = None,
        compress: Optional[tuple[int, int]] = None,
        heartbeat: Optional[float] = None,
        heartbeat_timeout: float = 30.0,
        limits: Optional[_Limits] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
        max_unsent_bytes: Optional[int] = None,
    ) -> RawClient: ...
    @staticmethod
    def connect_async(
        cq: CompletionQueue,
        token: int,
        address: str,
        serialize_type: int = 3,
        timeout: Optional[float] = None,
        connect_timeout: float = 1.0,
        auth: Optional[str] = None,
        compress: Optional[tuple[int, int]] = None,
        heartbeat: Optional[float] = None,
        heartbeat_timeout: float = 30.0,
        limits: Optional[_Limits] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
        max_unsent_bytes: Optional[int] = None,
    ) -> CallHandle: ...
    def call(
        self,
        service: str,
        method: str,
        serialize_type: int,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> tuple[bytes, dict[str, str]]: ...
    def call_payload(
        self,
        service: str,
        method: str,
        serialize_type: int,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> bytes: ...
    def start_call(
        self,
        cq: CompletionQueue,
        token: int,
        service: str,
        method: str,
        serialize_type: int,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
        payload_only: bool = False,
    ) -> CallHandle: ...
    def send(
        self,
        service: str,
        method: str,
        serialize_type: int,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> None: ...
    def start_send(
        self,
        cq: CompletionQueue,
        token: int,
        service: str,
        method: str,
        serialize_type: int,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> CallHandle: ...
    def recv_push(
        self, timeout: Optional[float] = None
    ) -> Optional[tuple[str, str, dict[str, str], bytes]]: ...
    def start_recv_push(
        self, cq: CompletionQueue, token: int, timeout: Optional[float] = None
    ) -> CallHandle: ...
    def send_file(
        self,
        service: str,
        path: Union[str, PathLike[str]],
        rate: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
    ) -> RawUpload: ...
    def download_file(
        self, service: str, name: str, metadata: Optional[dict[str, str]] = None
    ) -> RawDownload: ...
    def stream(self, service: str, metadata: Optional[dict[str, str]] = None) -> int: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def address(self) -> str: ...
    @property
    def peer(self) -> str: ...

@final
class RawServer:
    @staticmethod
    def start(
        address: str,
        methods: list[tuple[str, str]],
        auth: bool = False,
        limits: Optional[_Limits] = None,
        max_connections: Optional[int] = None,
        max_inflight_per_conn: Optional[int] = None,
        idle_timeout: Optional[float] = None,
        metrics: bool = False,
        max_pending_bytes_per_conn: Optional[int] = None,
        max_pending_bytes: Optional[int] = None,
        metadata: Optional[list[tuple[str, str]]] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
        plugins: Optional[list[Union[IpFilter, RateLimit]]] = None,
        http_gateway: bool = True,
        jsonrpc: bool = True,
        http_connect: bool = True,
        websocket: bool = True,
        cors: Optional[_Cors] = None,
        http_request_timeout: Optional[float] = None,
        http_max_header_bytes: Optional[int] = None,
        http_max_headers: Optional[int] = None,
        file_transfer: Optional[_FileTransfer] = None,
        streams: Optional[_Side] = None,
        stream_acceptor: bool = False,
        reflection: bool = False,
        async_queue: Optional[CompletionQueue] = None,
        async_dispatch: Optional[Callable[[Job], object]] = None,
        async_methods: Optional[list[int]] = None,
    ) -> RawServer: ...
    def register(self, service: str, method: str, index: int, is_async: bool = False) -> None: ...
    def describe(
        self,
        service: str,
        method: str,
        args_type: str,
        args_definition: str,
        reply_type: str,
        reply_definition: str,
    ) -> None: ...
    def set_service_metadata(self, service: str, metadata: str) -> None: ...
    def unregister(self, service: str) -> bool: ...
    def unregister_all(self) -> list[str]: ...
    def add_registry(
        self, registry: Union[EtcdRegistry, ConsulRegistry, RedisRegistry, ZookeeperRegistry]
    ) -> None: ...
    def metrics_text(self) -> Optional[str]: ...
    def metrics(
        self,
    ) -> Optional[list[tuple[str, str, int, int, float, list[tuple[float, int]]]]]: ...
    def next_job(self, timeout: Optional[float] = None) -> Optional[Job]: ...
    def next_side_job(
        self, timeout: Optional[float] = None
    ) -> Union[StreamJob, UploadJob, DownloadJob, None]: ...
    @property
    def file_transfer_address(self) -> Optional[str]: ...
    @property
    def stream_address(self) -> Optional[str]: ...
    @property
    def stopping(self) -> bool: ...
    def stop(self, grace: float = 5.0) -> None: ...
    def close(self) -> None: ...
    def wait_stopped(self, timeout: Optional[float] = None) -> bool: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def inflight(self) -> int: ...

# (listen, advertise_addr, token_lifetime, max_tokens, max_concurrent, handshake_timeout)
_Side = tuple[str, Optional[str], float, int, int, float]
# (upload_dir, download_dir, max_file_size, io_timeout, side, upload_handler, download_handler)
_FileTransfer = tuple[
    Union[str, PathLike[str], None],
    Union[str, PathLike[str], None],
    int,
    float,
    _Side,
    bool,
    bool,
]

@final
class StreamJob:
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def peer(self) -> str: ...
    def take_fd(self) -> int: ...
    def done(self) -> None: ...

@final
class UploadJob:
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def peer(self) -> str: ...
    def read(self) -> Optional[bytes]: ...
    def finish(self, error: Optional[str] = None) -> None: ...

@final
class DownloadJob:
    @property
    def name(self) -> str: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def peer(self) -> str: ...
    def write(self, data: bytes) -> None: ...
    def finish(self, error: Optional[str] = None) -> None: ...

@final
class RawUpload:
    def wait(self) -> int: ...
    def close(self) -> None: ...

@final
class RawDownload:
    def read(self) -> Optional[bytes]: ...
    def close(self) -> None: ...

@final
class Job:
    @property
    def index(self) -> int: ...
    @property
    def is_auth(self) -> bool: ...
    @property
    def stream_metadata(self) -> Optional[dict[str, str]]: ...
    @property
    def cancelled_watch(self) -> Optional[int]: ...
    @property
    def token(self) -> Optional[str]: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def serialize_type(self) -> int: ...
    def context(self) -> RawContext: ...
    def reply(self, payload: bytes) -> bool: ...
    def fail(self, message: str, payload: Optional[bytes] = None) -> bool: ...
    @property
    def pending(self) -> bool: ...

@final
class RawContext:
    """What a handler (or the auth callable) knows about the call it serves."""

    @property
    def service(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def peer(self) -> str: ...
    @property
    def serialize_type(self) -> int: ...
    def remaining(self) -> Optional[float]: ...
    def is_cancelled(self) -> bool: ...
    def wait_cancelled(self, timeout: Optional[float] = None) -> bool: ...
    def watch_cancel(self, watch: int) -> bool: ...
    def set_reply_meta(self, key: str, value: str) -> None: ...
    def push(
        self,
        service: str,
        method: str,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> None: ...
    def start_push(
        self,
        cq: CompletionQueue,
        token: int,
        service: str,
        method: str,
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> CallHandle: ...

_Servers = list[tuple[str, str]]

@final
class Peer:
    """One fixed server (Go's ``Peer2PeerDiscovery``)."""

    def __new__(cls, address: str, metadata: str = "") -> Peer: ...
    @property
    def servers(self) -> _Servers: ...

@final
class MultipleServers:
    """A server list kept by the program; ``update()`` replaces it at run time."""

    def __new__(cls, servers: Iterable[Union[str, tuple[str, str]]]) -> MultipleServers: ...
    def update(self, servers: Iterable[Union[str, tuple[str, str]]]) -> None: ...
    @property
    def servers(self) -> _Servers: ...

@disjoint_base
class StoreDiscovery:
    """The base class of the :class:`Etcd`, :class:`Consul`, :class:`Redis` and
    :class:`Zookeeper` discoveries: the servers of one service registered in a store, watched
    in the background. ``servers`` is the list as last read, ``prefix`` the watched key prefix
    or znode (``<base_path>/<service>`` as the store spells it), ``close()`` stops watching
    (XClients keep the last list). It has no constructor: only its subclasses connect."""

    @property
    def servers(self) -> _Servers: ...
    @property
    def prefix(self) -> str: ...
    def close(self) -> None: ...

@final
class Etcd(StoreDiscovery):
    """Servers of one service registered in etcd v3 under ``base_path``."""

    def __new__(
        cls,
        endpoints: Union[str, list[str]],
        base_path: str,
        service: str,
        tls: Union[TLSConfig, _Tls, None] = None,
    ) -> Etcd: ...

@final
class RegistryStatus:
    """What a registry has achieved: whether the server's keys are written on a live lease or
    session, and why not. A store that cannot be reached (at start or later) is retried
    about every refresh period while the server serves."""

    @property
    def engine(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def up(self) -> bool: ...
    @property
    def last_error(self) -> Optional[str]: ...
    @property
    def failures(self) -> int: ...
    @property
    def down_for(self) -> Optional[float]: ...

@disjoint_base
class Registry:
    """The base class of :class:`EtcdRegistry`, :class:`ConsulRegistry`,
    :class:`RedisRegistry` and :class:`ZookeeperRegistry`, with the members they share:
    ``flush()`` waits for the queued writes, ``close()`` stops the background work without
    deleting anything, ``status`` says whether the keys are written, ``closed`` and
    ``base_path``. It has no constructor: only its subclasses make registries."""

    def flush(self, timeout: float = 5.0) -> bool: ...
    def close(self) -> None: ...
    @property
    def status(self) -> RegistryStatus: ...
    @property
    def closed(self) -> bool: ...
    @property
    def base_path(self) -> str: ...

@final
class EtcdRegistry(Registry):
    """Publishes a server's services in etcd v3 (Go's rpcx-etcd layout) under one lease."""

    def __new__(
        cls,
        endpoints: Union[str, list[str]],
        base_path: str = "/rpcx",
        update_interval: float = 60.0,
        expired: Optional[float] = None,
        service_address: Optional[str] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
    ) -> EtcdRegistry: ...
    @property
    def lease_id(self) -> int: ...

@final
class ConsulRegistry(Registry):
    """Publishes a server's services in Consul's KV store (Go's rpcx-consul layout)."""

    def __new__(
        cls,
        address: str,
        base_path: str = "/rpcx",
        update_interval: float = 60.0,
        expired: Optional[float] = None,
        service_address: Optional[str] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
    ) -> ConsulRegistry: ...
    @property
    def session_id(self) -> str: ...

@final
class RedisRegistry(Registry):
    """Publishes a server's services in Redis in the layout of Go rpcx's RedisRegisterPlugin:
    node keys rewritten every ``update_interval`` seconds, expiring after twice that."""

    def __new__(
        cls,
        address: str,
        base_path: str = "/rpcx",
        update_interval: float = 60.0,
        service_address: Optional[str] = None,
    ) -> RedisRegistry: ...

@final
class ZookeeperRegistry(Registry):
    """Publishes a server's services in ZooKeeper in the layout of Go's rpcx-zookeeper plugin:
    persistent ``/<base>`` and ``/<base>/<Service>`` nodes, and an ephemeral
    ``/<base>/<Service>/<address>`` node (the metadata) of the registry's session, which asks
    for a timeout of twice ``update_interval``."""

    def __new__(
        cls,
        servers: Union[str, list[str]],
        base_path: str = "/rpcx",
        update_interval: float = 60.0,
        service_address: Optional[str] = None,
    ) -> ZookeeperRegistry: ...
    @property
    def servers(self) -> str: ...

@final
class Zookeeper(StoreDiscovery):
    """Servers of one service registered in ZooKeeper under ``base_path`` (Go's
    rpcx-zookeeper layout: the children of ``/<base>/<service>``), followed through
    watches."""

    def __new__(
        cls, servers: Union[str, list[str]], base_path: str, service: str
    ) -> Zookeeper: ...

@final
class Redis(StoreDiscovery):
    """Servers of one service registered in Redis under ``base_path`` (Go's
    RedisRegisterPlugin layout), followed through keyspace notifications."""

    def __new__(cls, address: str, base_path: str, service: str) -> Redis: ...

@final
class Consul(StoreDiscovery):
    """Servers of one service registered in Consul's KV store under ``base_path``."""

    def __new__(
        cls, address: str, base_path: str, service: str, tls: Union[TLSConfig, _Tls, None] = None
    ) -> Consul: ...

@final
class Dns:
    """The servers behind a DNS name: each A/AAAA record ``ip`` is ``network@ip:port``
    (IPv6 bracketed), looked up again every ``interval`` seconds; a failed lookup keeps the
    last list."""

    def __new__(
        cls,
        domain: str,
        port: int,
        network: str = "tcp",
        interval: float = 30.0,
        nameservers: Union[str, list[str], None] = None,
    ) -> Dns: ...
    @property
    def servers(self) -> _Servers: ...
    @property
    def domain(self) -> str: ...
    @property
    def last_error(self) -> Optional[str]: ...
    def close(self) -> None: ...

@final
class SelectRequest:
    """What a custom selector is told about the call being placed."""

    @property
    def service(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def payload(self) -> bytes: ...

@final
class RawXClient:
    def __new__(
        cls,
        service: str,
        discovery: Union[Peer, MultipleServers, Etcd, Consul, Redis, Zookeeper, Dns],
        *,
        fail_mode: int = 0,
        select_mode: int = 1,
        selector: Optional[Callable[[list[str], SelectRequest], Optional[str]]] = None,
        location: Optional[tuple[float, float]] = None,
        retries: int = 3,
        retry_interval: float = 0.0,
        group: Optional[str] = None,
        backup_latency: float = 0.01,
        breaker: Optional[tuple[int, float]] = None,
        health: Optional[tuple[float, float]] = ...,
        broadcast_timeout: float = 60.0,
        serialize_type: int = 3,
        timeout: Optional[float] = None,
        connect_timeout: float = 1.0,
        auth: Optional[str] = None,
        compress: Optional[tuple[int, int]] = None,
        heartbeat: Optional[float] = None,
        heartbeat_timeout: float = 30.0,
        limits: Optional[_Limits] = None,
        tls: Union[TLSConfig, _Tls, None] = None,
        max_unsent_bytes: Optional[int] = None,
    ) -> RawXClient: ...
    def call(
        self,
        kind: str,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> tuple[bytes, dict[str, str]]: ...
    def start_call(
        self,
        cq: CompletionQueue,
        token: int,
        kind: str,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> CallHandle: ...
    def inform(
        self,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> list[_Receipt]: ...
    def start_inform(
        self,
        cq: CompletionQueue,
        token: int,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> CallHandle: ...
    def send(
        self,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> None: ...
    def start_send(
        self,
        cq: CompletionQueue,
        token: int,
        method: str,
        serialize_type: Optional[int],
        payload: bytes,
        metadata: Optional[dict[str, str]] = None,
    ) -> CallHandle: ...
    def send_file(
        self,
        path: Union[str, PathLike[str]],
        rate: Optional[int] = None,
        metadata: Optional[dict[str, str]] = None,
    ) -> RawUpload: ...
    def download_file(self, name: str, metadata: Optional[dict[str, str]] = None) -> RawDownload: ...
    def stream(self, metadata: Optional[dict[str, str]] = None) -> int: ...
    def take_pushes(self) -> Optional[RawPushes]: ...
    @property
    def servers(self) -> _Servers: ...
    @property
    def service(self) -> str: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...

_ServerPush = tuple[str, str, dict[str, str], bytes, str]
_Receipt = tuple[str, Optional[tuple[bytes, dict[str, str]]], Optional[Exception]]

@final
class RawPushes:
    def recv(self, timeout: Optional[float] = None) -> Optional[_ServerPush]: ...
    def start_recv(
        self, cq: CompletionQueue, token: int, timeout: Optional[float] = None
    ) -> CallHandle: ...

@final
class IpFilter:
    def __new__(
        cls, allow: Optional[list[str]] = None, deny: Optional[list[str]] = None
    ) -> IpFilter: ...
    def permits(self, peer: str) -> bool: ...
    @property
    def allow(self) -> list[str]: ...
    @property
    def deny(self) -> list[str]: ...

@final
class RateLimit:
    def __new__(cls, fill_interval: float, capacity: int) -> RateLimit: ...
    @property
    def fill_interval(self) -> float: ...
    @property
    def capacity(self) -> int: ...
