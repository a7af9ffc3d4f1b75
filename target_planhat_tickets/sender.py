"""One background thread that sends the requests of one batch at a time.

Planhat's documentation requests that bulk requests run one after another.
The target therefore keeps exactly one batch of requests in flight, on this
thread, while its main thread reads and prepares the next batch. The
`PlanhatClient` is used only from this thread, and only by one batch at a
time, so its requests never overlap.

A STATE handed over while a batch is in flight goes out only after that
batch succeeded, because the STATE covers its records. After a failure no
STATE goes out at all: the main thread re-raises the batch's exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: Writes one STATE message to standard output.
StateWriter = Callable[[dict[str, Any]], None]


class BatchSender:
    """Run send jobs one at a time on a daemon thread, and emit STATE after them.

    Every method but `stop` is called from the main thread. The thread is a
    daemon, so that a run stopped by a signal exits without waiting for the
    request in flight.
    """

    def __init__(self, write_state: StateWriter) -> None:
        """Create an idle sender that emits STATE with `write_state`."""
        self._write_state = write_state
        # Guards every field below and orders STATE output between threads.
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._state_after_job: dict[str, Any] | None = None
        self._failure: BaseException | None = None
        self._stopped = False

    @property
    def busy(self) -> bool:
        """Whether a job is in flight."""
        return self._busy

    @property
    def failure(self) -> BaseException | None:
        """The exception of the job that failed, or None while every job succeeded."""
        return self._failure

    def submit(self, job: Callable[[], None]) -> None:
        """Wait for the job in flight, then start `job` on a new thread.

        Raises:
            BaseException: the exception of an earlier job that failed.

        """
        self.wait()
        with self._lock:
            self._busy = True
        worker = threading.Thread(
            target=self._run, args=(job,), name="planhat-sender", daemon=True
        )
        worker.start()

    def wait(self) -> None:
        """Wait until no job is in flight.

        Raises:
            BaseException: the exception of a job that failed.

        """
        with self._lock:
            while self._busy:
                self._idle.wait()
        if self._failure is not None:
            raise self._failure

    def emit_state_when_sent(self, state: dict[str, Any]) -> None:
        """Emit `state` once the job in flight succeeded, or now when none is.

        The caller hands over a STATE only when every record before it has
        been given to a job, so the job in flight is the last one it waits for.
        A later STATE replaces an earlier one that is still waiting.
        """
        with self._lock:
            if self._failure is not None or self._stopped:
                return
            if self._busy:
                self._state_after_job = state
                return
            self._write_state(state)

    def stop(self) -> None:
        """Emit no more STATE, whatever the job in flight does.

        Called from a signal handler, which may interrupt the main thread
        while it holds the lock, so this takes no lock.
        """
        self._stopped = True

    def _run(self, job: Callable[[], None]) -> None:
        failure: BaseException | None = None
        try:
            job()
        except BaseException as exc:  # re-raised on the main thread
            failure = exc

        with self._lock:
            state, self._state_after_job = self._state_after_job, None
            try:
                if failure is None and state is not None and not self._stopped:
                    self._write_state(state)
            except BaseException as exc:  # such as a closed stdout
                failure = exc
            finally:
                if failure is not None:
                    self._failure = failure
                self._busy = False
                self._idle.notify_all()
