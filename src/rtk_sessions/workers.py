"""The one place background workers are declared, started and stopped.

A worker is anything with ``start()`` (spawn its thread) and ``stop()`` (end it and wait for it);
one with a ``dispose()`` has it called instead of ``stop()`` when it was never started. A
*factory* builds one worker for one application from a :class:`WorkerContext`. The application's
lifespan (``rtk_sessions.app``) builds every registered worker, in registration order, puts each
on ``app.state.<name>``, starts them when the app runs in the background mode, and stops them in
reverse order on shutdown. Adding a worker is one line, at import time of a module ``app`` imports::

    workers.register("webhooks", lambda ctx: DeliveryWorker(ctx.db, ctx.settings))

Registered here by ``rtk_sessions.app``: ``sweeper`` (ends idle sessions, prunes samples) and
``jobs`` (the job runner: summaries, pruning of old download files).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rtk_sessions.config import Settings
from rtk_sessions.storage.engine import Database

log = logging.getLogger("rtk_sessions")


class Worker(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class WorkerContext:
    """What a factory may use: the database, the settings, the signing secret and the
    application's ``state`` (what the routes put there, e.g. ``state.downloads``)."""

    db: Database
    settings: Settings
    secret: bytes
    state: Any


WorkerFactory = Callable[[WorkerContext], Worker]

_REGISTRY: dict[str, WorkerFactory] = {}


def register(name: str, factory: WorkerFactory) -> WorkerFactory:
    """Declare the worker ``name`` (also its ``app.state`` attribute). Registering a name again
    replaces its factory, keeping its place in the order. Returns ``factory`` (a decorator)."""
    _REGISTRY[name] = factory
    return factory


def registered() -> list[str]:
    """The names of the registered workers, in start order."""
    return list(_REGISTRY)


class Workers:
    """The workers of one application, built from the registry."""

    def __init__(self, context: WorkerContext) -> None:
        self.built: dict[str, Worker] = {}
        for name, factory in _REGISTRY.items():
            worker = factory(context)
            self.built[name] = worker
            setattr(context.state, name, worker)
        self.started: list[str] = []

    def start(self) -> None:
        """Start each worker, in registration order."""
        for name, worker in self.built.items():
            worker.start()
            self.started.append(name)

    def stop(self) -> None:
        """Stop the started workers in reverse order (dispose the others); one that fails to stop
        is logged and the rest are still stopped."""
        for name in reversed(list(self.built)):
            worker = self.built[name]
            try:
                if name in self.started:
                    worker.stop()
                else:
                    dispose = getattr(worker, "dispose", None)
                    if callable(dispose):
                        dispose()
            except Exception:
                log.exception("stopping worker %s failed", name)
        self.started.clear()


__all__ = ["Worker", "WorkerContext", "WorkerFactory", "Workers", "register", "registered"]
