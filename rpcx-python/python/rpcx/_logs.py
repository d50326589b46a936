"""rpcx's log events in Python's ``logging``.

The Rust core logs refused connections, malformed frames, limit hits, authentication
failures, handler panics, registry and discovery outages and recoveries, and (at debug level)
the life of connections. Here they go to ``logging.getLogger("rpcx")`` and its children, one
per source module of the core: ``rpcx.server.conn``, ``rpcx.server.http``, ``rpcx.registry``,
``rpcx.xclient.watched``, ``rpcx.client.conn``… (targets of rpcx's dependencies, at trace
level, become ``rpcx.<crate>…``). The message is the event's text followed by its fields as
``key=value``; the record's ``extra`` attributes are ``rpcx_target`` (the core's target),
``rpcx_text`` (the text alone) and ``rpcx_fields`` (a dict of the fields).

Which events are forwarded is decided in the core, so that nothing below the level you want
is even formatted: :func:`set_log_level` reads ``logging.getLogger("rpcx")``'s effective level
(or sets it first) and passes it on. It is read once at import (so the default is WARNING, as
Python's), and again whenever you call :func:`set_log_level`; changing the logger's level
directly with ``setLevel`` takes effect for the core after the next :func:`set_log_level`.

Events are emitted on rpcx's runtime threads, which never take the GIL: each is put in a
bounded queue (4096 events) and a daemon thread, ``rpcx-log``, hands them to ``logging``. A
full queue drops events, counted by :func:`dropped_log_events`; so does forwarding after
interpreter exit has begun (an ``atexit`` handler stops it, so shutdown never waits on it).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Dict, Optional, Union

from . import _rpcx

#: The parent logger of every rpcx event.
LOGGER = logging.getLogger("rpcx")

_lock = threading.Lock()
_thread: Optional[threading.Thread] = None
_stopping = threading.Event()
_loggers: Dict[str, logging.Logger] = {}


def _logger_for(target: str) -> logging.Logger:
    logger = _loggers.get(target)
    if logger is None:
        parts = [p for p in target.split("::") if p]
        if parts and parts[0] == "rpcx":
            parts = parts[1:]
        logger = logging.getLogger(".".join(["rpcx", *parts]))
        _loggers[target] = logger
    return logger


def _drain() -> None:
    while not _stopping.is_set():
        event = _rpcx._log_next(0.2)
        if event is None:
            continue
        level, target, text, message, fields = event
        try:
            logger = _logger_for(target)
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "%s",
                    message,
                    extra={
                        "rpcx_target": target,
                        "rpcx_text": text,
                        "rpcx_fields": dict(fields),
                    },
                )
        except Exception:  # a failing handler must not end forwarding
            pass


def _core_level(level: int) -> int:
    """The core's level (0 off … 5 trace) for a ``logging`` level."""
    if level > logging.ERROR:
        return 0
    if level > logging.WARNING:
        return 1
    if level > logging.INFO:
        return 2
    if level > logging.DEBUG:
        return 3
    if level > 5:
        return 4
    return 5


def set_log_level(level: Union[int, str, None] = None) -> int:
    """Sets which of the core's events reach ``logging``.

    With ``level`` (a ``logging`` level or its name, e.g. ``logging.DEBUG`` or ``"DEBUG"``),
    first sets it on ``logging.getLogger("rpcx")``. Then passes that logger's effective level
    to the core, which from then on emits only events at or above it. Returns the effective
    level. Levels below DEBUG (e.g. 5) also forward the core's trace events.
    """
    if level is not None:
        LOGGER.setLevel(level)
    effective = LOGGER.getEffectiveLevel()
    _rpcx._log_set_level(_core_level(effective))
    return effective


def dropped_log_events() -> int:
    """Events dropped so far: the queue to the ``rpcx-log`` thread was full, or they came
    after interpreter exit had begun."""
    return _rpcx._log_dropped()


def _start_thread() -> None:
    global _thread
    with _lock:
        _stopping.clear()
        _thread = threading.Thread(target=_drain, name="rpcx-log", daemon=True)
        _thread.start()


def _stop() -> None:
    _rpcx._log_stop()
    _stopping.set()
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=1.0)


def _start() -> None:
    if not _rpcx._log_start():
        return
    set_log_level()
    _start_thread()
    atexit.register(_stop)
    if hasattr(os, "register_at_fork"):
        # A forked child has no copy of the thread: start its own.
        os.register_at_fork(after_in_child=_start_thread)


_start()
