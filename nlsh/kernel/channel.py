"""Bounded channels between pipeline stages.

A producer blocks when the channel is full (back-pressure); when the
consumer stops reading (``first 3`` is satisfied), the producer's next
``put`` raises ``ChannelClosed`` so it stops early, like SIGPIPE.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

from nlsh.kernel.context import Cancelled, CancelToken

_END = object()
CAPACITY = 256


class ChannelClosed(Exception):
    """The reading side went away; the writer should stop."""


class Channel:
    def __init__(self, cancel: CancelToken, capacity: int = CAPACITY) -> None:
        self._q: queue.Queue = queue.Queue(capacity)
        self._cancel = cancel
        self._reader_gone = False
        self.count = 0

    def put(self, item: object) -> None:
        while True:
            if self._reader_gone:
                raise ChannelClosed()
            if self._cancel.cancelled:
                raise Cancelled(self._cancel.reason)
            try:
                self._q.put(item, timeout=0.05)
                self.count += 1
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """The writer is done (always called, even after an error)."""
        while not self._reader_gone:
            try:
                self._q.put(_END, timeout=0.05)
                return
            except queue.Full:
                if self._cancel.cancelled:
                    self.stop_reading()

    def stop_reading(self) -> None:
        """The reader is done: unblock the writer and drop what is queued."""
        self._reader_gone = True
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass

    def __iter__(self) -> Iterator[object]:
        try:
            while True:
                try:
                    item = self._q.get(timeout=0.05)
                except queue.Empty:
                    if self._cancel.cancelled:
                        raise Cancelled(self._cancel.reason) from None
                    continue
                if item is _END:
                    return
                yield item
        finally:
            self.stop_reading()
