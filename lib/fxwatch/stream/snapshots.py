"""Driver-side state of a foreachBatch query, snapshotted per micro-batch beside its checkpoint.

Spark commits a micro-batch after its foreachBatch function returns; a job that dies in between
replays that batch on restart (same batch id, same data). State kept on the driver follows the same
rule when it is saved as "the state after batch B" before the function returns, and a batch B starts
from the newest snapshot of a batch before B: a replay then recomputes exactly what it did the first
time. Batches that change nothing need no snapshot.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Callable

__all__ = ["BatchSnapshots"]

_SNAPSHOT = re.compile(r"^state-(\d+)\.pkl$")


class BatchSnapshots:
    """Pickled states `<folder>/state-<batch>.pkl`; the newest `keep` (≥ 2) are kept.

    Also the state in memory: `state` is the state after batch `batch`, so consecutive batches of one
    driver never read the disk; `before(B, fresh)` / `after(state, B)` are the whole protocol.
    """

    def __init__(self, folder: str | Path, keep: int = 3):
        self.folder = Path(folder)
        self.keep = max(keep, 2)
        self.last_bytes = 0
        self.state = None
        self.batch: int | None = None

    def before(self, batch_id: int, fresh: Callable[[], object]):
        """The state after batch_id - 1: in memory when batches follow each other, else the newest
        snapshot of a batch < batch_id, else `fresh()`."""
        if self.state is not None and self.batch == batch_id - 1:
            return self.state
        state = self.load_before(batch_id)
        return state if state is not None else fresh()

    def after(self, state, batch_id: int, changed: bool = True) -> None:
        """`state` is the state after batch_id; saved unless the batch changed nothing."""
        if changed:
            self.save(state, batch_id)
        self.state, self.batch = state, batch_id

    def unchanged(self, batch_id: int) -> None:
        """Batch batch_id changed nothing (and its state was not needed): the state in memory, if it
        is the previous batch's, is this one's too."""
        if self.batch is not None and self.batch == batch_id - 1:
            self.batch = batch_id

    def ids(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _SNAPSHOT.match(p.name)))

    def load_before(self, batch_id: int):
        """The newest state saved by a batch < batch_id, or None."""
        older = [i for i in self.ids() if i < batch_id]
        if not older:
            return None
        with open(self.folder / f"state-{older[-1]}.pkl", "rb") as fh:
            return pickle.load(fh)

    def save(self, state, batch_id: int) -> None:
        """Save the state after `batch_id`; drop snapshots of later batches (stale after a replay)
        and all but the newest `keep`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = self.folder / f".state-{batch_id}.pkl.tmp"
        tmp.write_bytes(blob)
        # atomic: a crash leaves the old or the new file, never half of one (no fsync, like Spark's
        # own checkpoint files on a local disk: a killed process loses nothing, a power cut may)
        os.replace(tmp, self.folder / f"state-{batch_id}.pkl")
        self.last_bytes = len(blob)
        for i in self.ids():
            if i > batch_id:
                (self.folder / f"state-{i}.pkl").unlink(missing_ok=True)
        for old in self.ids()[:-self.keep]:
            (self.folder / f"state-{old}.pkl").unlink(missing_ok=True)
