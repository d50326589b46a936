"""rpcx for Python: clients and servers of the rpcx RPC framework on a Rust core,
wire-compatible with Go's github.com/smallnest/rpcx.

    import rpcx

    server = rpcx.Server()

    @server.register("Arith.Mul")
    def mul(args):
        return {"C": args["A"] * args["B"]}

    port = server.start("tcp@127.0.0.1:0")
    with rpcx.Client(f"tcp@127.0.0.1:{port}") as client:
        assert client.call("Arith", "Mul", {"A": 7, "B": 8}) == {"C": 56}
    server.stop()

``XClient`` and ``AsyncXClient`` call one service over the servers of a discovery
(``Peer``, ``MultipleServers``, ``Etcd``, ``Consul``, ``Redis``, ``Zookeeper``, ``Dns``) with a
``SelectMode`` or a custom selector (any callable) and a ``FailMode``, and fan out with
``broadcast`` and ``fork``:

    servers = rpcx.MultipleServers(["tcp@127.0.0.1:8972", "tcp@127.0.0.1:8973"])
    with rpcx.XClient("Arith", servers, fail_mode=rpcx.FailMode.FAILOVER) as xc:
        assert xc.call("Mul", {"A": 7, "B": 8}) == {"C": 56}
        servers.update(["tcp@127.0.0.1:8973"])   # takes effect at once

``tls=rpcx.TLSConfig(...)`` serves or connects over TLS (mutual TLS with client
certificates):

    server = rpcx.Server(tls=rpcx.TLSConfig(cert_file="server.pem", key_file="server.key"))
    client = rpcx.Client("tcp@127.0.0.1:8972", tls=rpcx.TLSConfig(ca_file="ca.pem"))
"""

from __future__ import annotations

from ._codec import Serializer
from ._logs import dropped_log_events, set_log_level
from ._otel import opentelemetry_enabled, set_opentelemetry
from ._rpcx import (
    ConsulRegistry,
    EtcdRegistry,
    RedisRegistry,
    Registry,
    RegistryStatus,
    StoreDiscovery,
    ZookeeperRegistry,
    __version__,
    set_worker_threads,
)
from .client import AsyncClient, Client, Push
from .compress import (
    COMPRESS_GZIP,
    COMPRESS_NONE,
    COMPRESS_SNAPPY,
    compressor_available,
    register_compressor,
    unregister_compressor,
)
from .context import Context
from .cors import CorsOptions
from .interceptors import (
    ClientCall,
    ClientInterceptor,
    IpFilter,
    RateLimit,
    ServerInterceptor,
)
from .errors import (
    ClosedError,
    RpcConnectionError,
    RpcError,
    RpcTimeoutError,
    SerializationError,
    ServiceError,
)
from .limits import Limits
from .server import MethodStats, Server
from .tls import TLSConfig
from .transfer import (
    FILE_TRANSFER_SERVICE,
    STREAM_SERVICE,
    Download,
    FileTransferOptions,
    StreamOptions,
    Upload,
)
from .xclient import (
    AsyncXClient,
    Consul,
    Dns,
    Etcd,
    FailMode,
    MultipleServers,
    Peer,
    Redis,
    Receipt,
    SelectMode,
    SelectRequest,
    Selector,
    XClient,
    Zookeeper,
)

#: Raw bytes in, raw bytes out (serialize type 0).
RAW = Serializer.RAW
#: Go ``encoding/json`` conventions (serialize type 1).
JSON = Serializer.JSON
#: Protocol Buffers, ``google.protobuf`` message objects (serialize type 2).
PROTOBUF = Serializer.PROTOBUF
#: MessagePack, maps keyed by field name as Go expects (serialize type 3, the default).
MSGPACK = Serializer.MSGPACK

__all__ = [
    "AsyncClient",
    "AsyncXClient",
    "COMPRESS_GZIP",
    "COMPRESS_NONE",
    "COMPRESS_SNAPPY",
    "Client",
    "ClientCall",
    "ClientInterceptor",
    "ClosedError",
    "Consul",
    "ConsulRegistry",
    "Dns",
    "Download",
    "Context",
    "CorsOptions",
    "Etcd",
    "EtcdRegistry",
    "FILE_TRANSFER_SERVICE",
    "FileTransferOptions",
    "RedisRegistry",
    "Registry",
    "RegistryStatus",
    "ZookeeperRegistry",
    "FailMode",
    "IpFilter",
    "JSON",
    "Limits",
    "MethodStats",
    "MSGPACK",
    "MultipleServers",
    "PROTOBUF",
    "Peer",
    "Push",
    "RAW",
    "RateLimit",
    "Receipt",
    "Redis",
    "Zookeeper",
    "RpcConnectionError",
    "RpcError",
    "RpcTimeoutError",
    "SelectMode",
    "SelectRequest",
    "Selector",
    "SerializationError",
    "Serializer",
    "Server",
    "ServerInterceptor",
    "ServiceError",
    "STREAM_SERVICE",
    "StoreDiscovery",
    "StreamOptions",
    "TLSConfig",
    "Upload",
    "XClient",
    "__version__",
    "compressor_available",
    "dropped_log_events",
    "opentelemetry_enabled",
    "register_compressor",
    "set_log_level",
    "set_opentelemetry",
    "set_worker_threads",
    "unregister_compressor",
]
