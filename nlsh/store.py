"""The SQLite store: job records, the audit log, accepted plans, agent runs.

One file under the user data dir, in WAL mode. Writes go through a single
writer thread so a finished job never waits for the disk.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import sys
import threading
import time
from typing import Any

from nlsh.paths import data_dir, ensure

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    job INTEGER, command TEXT, cwd TEXT, state TEXT, status INTEGER,
    started REAL, ended REAL, cpu_user REAL, cpu_system REAL,
    peak_rss INTEGER, read_bytes INTEGER, write_bytes INTEGER, records_out INTEGER,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time REAL, cwd TEXT, typed TEXT, plan TEXT, model TEXT,
    decision TEXT, decided_by TEXT, status INTEGER,
    model_tokens INTEGER, model_s REAL, queue_s REAL, agent TEXT
);
CREATE TABLE IF NOT EXISTS agents (
    id INTEGER PRIMARY KEY,
    time REAL, cwd TEXT, task TEXT, status TEXT, answer TEXT, steps INTEGER,
    model_tokens INTEGER, model_s REAL, seconds REAL, transcript TEXT, parent INTEGER
);
CREATE TABLE IF NOT EXISTS accepted (
    id INTEGER PRIMARY KEY,
    time REAL, utterance TEXT, plan TEXT, model TEXT
);
"""


# columns added since a table was first made: (table, column, type)
ADDED = [("audit", "model_tokens", "INTEGER"), ("audit", "model_s", "REAL"), ("audit", "queue_s", "REAL"),
         ("jobs", "model_tokens", "INTEGER"), ("jobs", "model_s", "REAL"), ("audit", "agent", "TEXT"),
         ("agents", "parent", "INTEGER"), ("jobs", "shape", "TEXT"), ("jobs", "input_bytes", "INTEGER"),
         ("jobs", "node", "TEXT")]

_CONNECTING = threading.Lock()


def _opened(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")        # a committed audit row survives a crash
        conn.executescript(SCHEMA)
        for table, column, kind in ADDED:
            if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        conn.execute("CREATE INDEX IF NOT EXISTS jobs_shape ON jobs (shape)")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(data_dir(), "nlsh.db")
        self._q: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._warned = False
        self.broken: str | None = None      # why rows cannot be written, once that is known
        self._probed = False
        self._reader: sqlite3.Connection | None = None      # for read(), opened once
        self._unreadable = False
        self._read_lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        """A connection, the file made and in WAL mode. Switching a new file to WAL
        can find it busy at once (no waiting): this process's connections take turns,
        and another process's is waited out a little."""
        ensure(os.path.dirname(self.path))
        for attempt in range(20):
            try:
                with _CONNECTING:
                    return _opened(self.path)
            except sqlite3.OperationalError as e:
                if ("locked" not in str(e) and "busy" not in str(e)) or attempt == 19:
                    raise
            time.sleep(0.05)
        raise sqlite3.OperationalError("database is locked")

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Queue a row for writing (returns at once)."""
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="nlsh-store", daemon=True)
                self._writer.start()
        self._q.put((table, {k: _storable(v) for k, v in row.items()}))

    def _write_loop(self) -> None:
        try:
            conn: sqlite3.Connection | None = self.connect()
        except (OSError, sqlite3.Error) as e:   # rows are dropped; the shell goes on
            self._warn(e)
            conn = None
        stop = False
        while not stop:
            item = self._q.get()
            batch = [item]
            while True:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = any(table is None and row is None for table, row in batch)
            try:
                if conn is not None:
                    with conn:
                        for table, row in batch:
                            if table is not None:
                                cols = ", ".join(row)
                                conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",
                                             list(row.values()))
            except sqlite3.Error as e:          # a full disk, a locked or broken file: the shell goes on
                self._warn(e)
            for table, row in batch:
                if table is None and row is not None:
                    row.set()
                self._q.task_done()
        if conn is not None:
            conn.close()

    def writable(self) -> str | None:
        """Why rows cannot be written here (checked once, by taking the write lock
        and letting it go), or None. A line that changes anything runs only when
        its audit row can be written."""
        if not self._probed and self.broken is None:
            self._probed = True
            try:
                if not os.path.exists(self.path):
                    self.connect().close()          # the first line of a new data dir makes the file
                conn = sqlite3.connect(self.path, timeout=10)
                try:
                    conn.execute("BEGIN IMMEDIATE")     # waits while another writer holds it
                    conn.execute("ROLLBACK")
                finally:
                    conn.close()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):    # busy is not broken
                    self._warn(e)
            except (OSError, sqlite3.Error) as e:
                self._warn(e)
        return self.broken

    def _warn(self, e: Exception) -> None:
        self.broken = f"{self.path}: {getattr(e, 'strerror', None) or e}"
        if not self._warned:
            self._warned = True
            reason = getattr(e, "strerror", None) or e
            sys.stderr.write(f"nlsh: cannot use {self.path}: {reason} "
                             "(job records, the audit log and remembered plans are not kept)\n")

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued row is written."""
        if self._writer is None:
            return
        done = threading.Event()
        self._q.put((None, done))
        done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer thread (a later insert starts another)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._q.put((None, None))
            writer.join(timeout)
        with self._read_lock:
            reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        """Rows of ``sql``; none (and one warning) if the store cannot be read."""
        self.flush()
        if not os.path.exists(self.path):
            return []
        try:
            conn = self.connect()
        except (OSError, sqlite3.Error) as e:
            self._warn(e)
            return []
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as e:
            self._warn(e)
            return []
        finally:
            conn.close()

    def read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        """Rows of ``sql`` on one read-only connection kept open for reads that come
        often (a job's estimate): what is still queued for writing is not waited
        for, and a store that cannot be read gives no rows (it is not tried again)."""
        with self._read_lock:
            if self._reader is None:
                if self._unreadable or not os.path.exists(self.path):
                    return []
                try:
                    from pathlib import Path
                    self._reader = sqlite3.connect(Path(os.path.abspath(self.path)).as_uri() + "?mode=ro",
                                                   uri=True, timeout=10, check_same_thread=False)
                except sqlite3.Error:
                    self._unreadable = True
                    return []
                self._reader.row_factory = sqlite3.Row
            try:
                return self._reader.execute(sql, args).fetchall()
            except sqlite3.Error:       # a table or column an older nlsh did not make yet, a busy file
                return []


def _storable(value: Any) -> Any:
    """Text that SQLite can hold: a byte that was not UTF-8 (a file name, say) becomes ``\\xNN``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return value


def now() -> float:
    return time.time()
