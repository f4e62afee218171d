"""Bounded histories for curves: hours of training cost O(cap) memory."""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

HISTORY_CAP = 20_000  # points per series; older points are averaged in pairs beyond it
EVENT_CAP = 2_000  # most recent skipped / clipped steps marked
_STAMPS = itertools.count(1)  # versions, unique across all histories (an id() may be reused)


class History:
    """(step, value) points in preallocated arrays whose capacity doubles up to `cap`.

    Once full, the older half is averaged in pairs (each pair keeps its later step), so memory stays
    O(cap) however long training runs, and recent steps keep full resolution.
    """

    def __init__(self, cap: int = HISTORY_CAP, initial: int = 256) -> None:
        if cap < 4:
            raise ValueError(f"History needs a cap of at least 4 points, not {cap}")
        self.cap = cap
        self._initial = min(initial, cap)
        self.clear()

    def clear(self) -> None:
        self._xy = np.empty((2, self._initial))  # rows: step, value
        self._n = 0
        self.version = next(_STAMPS)  # new whenever the points change: a plot of them is up to date

    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._xy[0, : self._n]

    @property
    def y(self) -> np.ndarray:
        return self._xy[1, : self._n]

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append points; x must continue increasing."""
        new = np.stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])  # (2, k)
        if new.shape[1]:
            self.version = next(_STAMPS)
        while new.shape[1]:
            if self._n == self._xy.shape[1]:
                self._make_room()
            k = min(new.shape[1], self._xy.shape[1] - self._n)
            self._xy[:, self._n : self._n + k] = new[:, :k]
            self._n += k
            new = new[:, k:]

    def state(self) -> np.ndarray:
        """(2, n): the steps and values kept (a saved session's history)."""
        return self._xy[:, : self._n].copy()

    def load(self, xy: np.ndarray) -> None:
        """Replace the points with a state() (the newest `cap` if there are more)."""
        xy = np.asarray(xy, dtype=float).reshape(2, -1)[:, -self.cap :]
        self.clear()
        self.extend(xy[0], xy[1])

    def nearest(self, x: float) -> int | None:
        """Index of the point whose step is closest to x, None when empty."""
        if not self._n:
            return None
        xs = self.x
        i = int(np.searchsorted(xs, x))
        if i > 0 and (i == self._n or x - xs[i - 1] <= xs[i] - x):
            i -= 1
        return i

    def _make_room(self) -> None:
        size = self._xy.shape[1]
        if size < self.cap:
            grown = np.empty((2, min(2 * size, self.cap)))
            grown[:, : self._n] = self._xy[:, : self._n]
            self._xy = grown
        else:
            self._halve_older()

    def _halve_older(self) -> None:
        half = self._n // 4 * 2  # an even number of the oldest points
        k = half // 2
        steps, values = self._xy[0, 1:half:2].copy(), 0.5 * (self._xy[1, 0:half:2] + self._xy[1, 1:half:2])
        self._xy[0, :k], self._xy[1, :k] = steps, values
        rest = self._n - half
        self._xy[:, k : k + rest] = self._xy[:, half : self._n].copy()
        self._n = k + rest


class Events:
    """The most recent marked steps, each with the sentence hover shows for it."""

    def __init__(self, maxlen: int = EVENT_CAP) -> None:
        self._items: deque[tuple[int, str]] = deque(maxlen=maxlen)
        self.total = 0  # every event since clear(), kept or not
        self.version = next(_STAMPS)  # as History.version

    def add(self, step: int, text: str) -> None:
        self._items.append((step, text))
        self.total += 1
        self.version = next(_STAMPS)

    def clear(self) -> None:
        self._items.clear()
        self.total = 0
        self.version = next(_STAMPS)  # as History.version

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """The marked steps and their sentences (a saved session's history)."""
        steps = np.array([s for s, _ in self._items], dtype=np.int64)
        return steps, np.array([t for _, t in self._items], dtype=str)

    def load(self, steps: np.ndarray, texts: np.ndarray) -> None:
        self.clear()
        for step, text in zip(steps.tolist(), texts.tolist(), strict=True):
            self.add(int(step), str(text))

    def steps(self) -> np.ndarray:
        return np.fromiter((s for s, _ in self._items), dtype=float, count=len(self._items))

    def near(self, x: float, tolerance: float) -> tuple[int, str] | None:
        """The marked step closest to x if it lies within tolerance."""
        if not self._items:
            return None
        i = int(np.argmin(np.abs(self.steps() - x)))
        step, text = self._items[i]
        return (step, text) if abs(step - x) <= tolerance else None
