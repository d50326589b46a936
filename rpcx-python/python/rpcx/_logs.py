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
An effective level of NOTSET (0: neither ``rpcx`` nor any ancestor, the root included, has a
level) counts as WARNING, not as "everything": the core's trace level formats every event of
rpcx's dependencies. To forward everything, set a level on the ``rpcx`` logger itself, e.g.
``rpcx.set_log_level(5)`` (any level from 1 to 5 is the core's trace level).

Events are emitted on rpcx's runtime threads, which never take the GIL: each is put in a
bounded queue (4096 events) and a daemon thread, ``rpcx-log``, hands them to ``logging``. A
full queue drops events, counted by :func:`dropped_log_events`. At interpreter exit an
``atexit`` handler (registered at import, so it runs after the ``atexit`` handlers registered
later and before ``logging`` shuts down) stops forwarding and delivers the events still queued
on the exiting thread; events emitted after that are dropped and counted.
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
#: How long the ``rpcx-log`` thread waits for an event at a time; stopping wakes it sooner.
_WAIT = 5.0
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
        event = _rpcx._log_next(_WAIT)
        if event is not None:
            _deliver(event)


def _deliver(event: _rpcx._LogEvent) -> None:
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
    to the core, which from then on emits only events at or above it. Returns the level
    passed on. Levels below DEBUG (1 to 9, e.g. 5) also forward the core's trace events. An
    effective level of NOTSET (0: no level set on ``rpcx`` nor on any ancestor, the root
    included) means WARNING, the default, and WARNING is returned: set a level on ``rpcx``
    itself to forward more.
    """
    if level is not None:
        LOGGER.setLevel(level)
    effective = LOGGER.getEffectiveLevel()
    if effective == logging.NOTSET:
        effective = logging.WARNING
    _rpcx._log_set_level(_core_level(effective))
    return effective


def dropped_log_events() -> int:
    """Events dropped so far: the queue to the ``rpcx-log`` thread was full, or they came
    after rpcx's ``atexit`` handler had run."""
    return _rpcx._log_dropped()


def _start_thread() -> None:
    global _thread
    with _lock:
        _stopping.clear()
        _thread = threading.Thread(target=_drain, name="rpcx-log", daemon=True)
        _thread.start()


def _stop() -> None:
    _stopping.set()
    # Later events are dropped (and counted); earlier ones are all queued when this returns.
    # It also wakes the rpcx-log thread if it waits on an empty queue.
    _rpcx._log_stop()
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        # It ends after the event it is delivering; bounded in case a handler blocks.
        thread.join(timeout=1.0)
    # What is left goes to logging here: it is still up (logging.shutdown is an atexit
    # handler registered before this one, so it runs later).
    while True:
        event = _rpcx._log_next(0)
        if event is None:
            break
        _deliver(event)


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
