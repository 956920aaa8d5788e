"""Writers to one SQLite database take turns in a queue that wakes the next one at once.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps 1, 2,
5, 10 ... 100 ms between tries, so a waiting writer sleeps on after the lock is free while
newcomers barge in; under the API's mixed load some writes waited seconds (issue 17). Here
a write transaction first takes a lock of its process (so one thread per process waits),
then an exclusive flock on `<database>.wlock`; releasing either wakes the next waiter at
once, and the kernel queues the processes' waiters. It drops a flock with its process, so a
writer killed in the middle of a transaction frees the queue as SQLite's own lock is freed.

The queue only orders writers: SQLite's lock still guards the data, and whoever writes
without the queue (another program, a second write transaction of a thread that has the
turn already, a process that cannot open the lock file) meets SQLite's busy handler as
before.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref

LOG = logging.getLogger(__name__)

# Seconds the thread that waits on the file lock for its process lingers after its last
# wait: a busy server keeps it, an idle one (or a test's short-lived database) lets it go.
_WAITER_IDLE = 10.0
_QUEUES: weakref.WeakSet[WriteQueue] = weakref.WeakSet()


class QueueTimeout(Exception):
    """No turn to write came within the time given."""


class WriteQueue:
    """The turn to write to one SQLite database, for the connections of one process.

    `lock_path` None (an in-memory database, private to this process): threads take turns
    on the process lock only."""

    def __init__(self, lock_path: str | None) -> None:
        self.lock_path = lock_path
        self._reset()
        _QUEUES.add(self)

    def _reset(self) -> None:
        # Held from a writer's BEGIN to the end of its transaction, whichever thread ends it.
        self._turn = threading.Lock()
        self._owner = 0  # the thread that took the turn
        self._holder: object | None = None  # the connection whose transaction has it
        # Guards everything below, and is what the file's waiter and its client wait on.
        self._cond = threading.Condition()
        self._fd = -1
        self._opened = 0  # counts opens: the waiter's descriptor may be closed under it
        self._disabled = False  # the lock file cannot be used: SQLite's busy handler alone
        self._locked = False  # this process holds the file lock
        self._wanted = False  # the thread with the turn waits for the file lock
        self._waiter: threading.Thread | None = None
        self._waiter_fd = -1  # >= 0 while the waiter is blocked in flock() on it

    def acquire(self, connection: object, timeout: float) -> bool:
        """Take the turn to write for `connection`'s next transaction within `timeout`
        seconds, or raise QueueTimeout.

        False (nothing taken) when this thread has the turn already: it is opening a second
        write transaction beside its first, and waiting for itself would never end, so that
        one goes straight to SQLite as it did before the queue."""
        me = threading.get_ident()
        if self._owner == me:
            return False
        end = time.monotonic() + timeout
        if not self._turn.acquire(timeout=max(timeout, 0.0)):
            raise QueueTimeout()
        try:
            if self.lock_path is not None:
                self._lock_file(end)
        except BaseException:
            self._turn.release()
            raise
        with self._cond:
            self._owner = me
            self._holder = connection
        return True

    def release(self, connection: object) -> None:
        """Give up the turn if `connection` has it (its transaction ended)."""
        if self._holder is not connection:  # readers and nested writers: nothing to do
            return
        with self._cond:
            if self._holder is not connection:
                return
            self._holder = None
            self._owner = 0
            try:
                if self._locked:
                    self._locked = False
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                self._turn.release()

    def close(self) -> None:
        """Close the lock file when no transaction holds it (it is opened again on use)."""
        with self._cond:
            if self._fd >= 0 and not self._locked and not self._wanted:
                os.close(self._fd)
                self._fd = -1
            self._cond.notify_all()

    # --- the file lock, taken by the thread that has the turn ---------------------------

    def _lock_file(self, end: float) -> None:
        with self._cond:
            if self._fd < 0 and not self._disabled:
                self._open()
            if self._disabled:
                return
            if self._waiter_fd < 0:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._locked = True
                    return
                except BlockingIOError:
                    pass
            # flock() cannot time out: a thread of its own waits in it, so the writer can
            # give up on time (and a later writer finds the wait already under way).
            self._wanted = True
            try:
                if self._waiter is None:
                    self._waiter = threading.Thread(target=self._wait_for_file, daemon=True,
                                                    name="sqlite-write-queue")
                    self._waiter.start()
                self._cond.notify_all()
                while not self._locked and not self._disabled:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        raise QueueTimeout()
                    self._cond.wait(remaining)
            finally:
                self._wanted = False

    def _wait_for_file(self) -> None:
        while True:
            with self._cond:
                while not (self._wanted and not self._locked and self._fd >= 0):
                    closed = self._fd < 0 and not self._wanted
                    if closed or (not self._cond.wait(_WAITER_IDLE) and not self._wanted):
                        self._waiter = None
                        return
                # A descriptor of its own on the same open file (the same lock): close()
                # may close the queue's meanwhile without its number going to another file.
                fd = self._waiter_fd = os.dup(self._fd)
                opened = self._opened
            error: OSError | None = None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as err:
                error = err
            with self._cond:
                self._waiter_fd = -1
                if error is None and self._wanted and opened == self._opened \
                        and self._fd >= 0:
                    self._locked = True
                    self._cond.notify_all()
                elif error is None and self._fd >= 0 and opened == self._opened:
                    # The writer gave up meanwhile and nobody else asks yet.
                    fcntl.flock(fd, fcntl.LOCK_UN)
                # Closed meanwhile: closing the last descriptor gives the lock up.
                os.close(fd)
                if error is not None:
                    LOG.warning("waiting for the lock on %s failed (%s): SQLite writers "
                                "wait in its busy handler from now on", self.lock_path, error)
                    self._disabled = True
                    self._waiter = None
                    self._cond.notify_all()
                    return

    def _open(self) -> None:
        assert self.lock_path is not None
        try:
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as err:
            LOG.warning("cannot open %s (%s): SQLite writers wait in its busy handler",
                        self.lock_path, err)
            self._disabled = True
            return
        _same_owner_as_database(fd, self.lock_path)
        self._fd = fd
        self._opened += 1

    def _forget_after_fork(self) -> None:
        # The child's copy of the descriptor shares the parent's lock: closing it leaves
        # that lock alone (LOCK_UN would release it for the parent too).
        for fd in (self._fd, self._waiter_fd):
            if fd >= 0:
                os.close(fd)
        self._reset()


def _same_owner_as_database(fd: int, lock_path: str) -> None:
    """As root (neutrino-db-manage run by hand), give the lock file the database's owner,
    as SQLite does with its -wal and -shm files, so the service can still open it."""
    if os.geteuid() != 0:
        return
    try:
        database = os.stat(lock_path.removesuffix(".wlock"))
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (database.st_uid, database.st_gid):
            os.fchown(fd, database.st_uid, database.st_gid)
    except OSError:
        pass


def _after_fork_in_child() -> None:
    for queue in list(_QUEUES):
        queue._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def lock_path(database: str) -> str:
    return os.path.abspath(database) + ".wlock"


def sync_file(path: str) -> None:
    """Flush `path`'s data to disk. A file that is gone has nothing left to flush: SQLite
    removes its write-ahead log only after copying it into the database and syncing that."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def connection_class(queue: WriteQueue, sync_after_commit: str | None = None
                     ) -> type[sqlite3.Connection]:
    """pysqlite's connection, giving up `queue`'s turn as soon as its transaction ends:
    after COMMIT or ROLLBACK (whoever asks for it: a session, the pool's reset on return)
    and when it is closed (invalidated, discarded).

    `sync_after_commit`: the write-ahead log to flush after each COMMIT that changed rows,
    once the turn is given up. SQLite's synchronous=FULL flushes it inside COMMIT, while the
    writer still holds the lock, so every writer behind waits for the disk too (a quarter of
    the time a create held the lock under the API's mixed load). Flushed after, the next
    writer works while the disk syncs, and concurrent flushes share the disk's sync. The
    caller still answers only once its commit is on disk, and the log is written in order:
    a later commit flushed is every earlier one flushed."""

    class QueuedConnection(sqlite3.Connection):
        _changes_synced = 0

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._release_if_ended()
            if sync_after_commit is not None and self.total_changes != self._changes_synced:
                self._changes_synced = self.total_changes
                try:
                    sync_file(sync_after_commit)
                except OSError as err:
                    raise sqlite3.OperationalError(
                        f"disk I/O error: the commit may not be on disk ({err})") from err

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._release_if_ended()

        def close(self) -> None:
            try:
                super().close()
            finally:
                queue.release(self)

        def _release_if_ended(self) -> None:
            try:
                ended = not self.in_transaction
            except sqlite3.ProgrammingError:  # closed
                ended = True
            # A COMMIT that failed leaves the transaction open: the turn stays with it
            # until its ROLLBACK.
            if ended:
                queue.release(self)

    return QueuedConnection
