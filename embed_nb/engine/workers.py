"""Running a plan of decodes on one or more contexts.

On a CPU, two single-threaded contexts decoding different packs beat one context that splits
every operation across two threads: small matrix products spend much of their time waiting
at the barrier between operations. Work is pulled from a shared queue, so a slow pack does
not hold up the rest; results and progress come back to the calling thread, where a
KeyboardInterrupt lands, stops the workers after their current decode, and leaves every
context usable.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .context import DecodeContext

ProgressFn = Callable[[int, int], None]  # (sequences done, sequences in all)


class DecodeRunner:
    """Owns the contexts of one model and spreads the decodes of a call across them."""

    def __init__(self, contexts: list[DecodeContext], n_threads: int) -> None:
        self.contexts = contexts
        self.n_threads = n_threads
        self._pool = ThreadPoolExecutor(len(contexts), thread_name_prefix="embed_nb-decode")

    def run(
        self,
        sequences: list[np.ndarray],
        plan: list[list[int]],
        n_out: int,
        progress: ProgressFn | None,
    ) -> list[np.ndarray]:
        outputs: list[np.ndarray] = [np.empty(0, np.float32)] * len(sequences)
        if len(plan) == 1 or len(self.contexts) == 1:
            # One pack (a single query, say): every thread on one context is quickest.
            context = self.contexts[0]
            context.set_threads(self.n_threads)
            done = 0
            for group in plan:
                for i, out in zip(
                    group, context.decode([sequences[i] for i in group], n_out), strict=True
                ):
                    outputs[i] = out
                done += len(group)
                if progress is not None:
                    progress(done, len(sequences))
            return outputs
        return self._run_parallel(sequences, plan, n_out, progress, outputs)

    def _run_parallel(
        self,
        sequences: list[np.ndarray],
        plan: list[list[int]],
        n_out: int,
        progress: ProgressFn | None,
        outputs: list[np.ndarray],
    ) -> list[np.ndarray]:
        threads_each = max(1, self.n_threads // len(self.contexts))
        todo: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        for group in plan:
            todo.put(group)
        finished: queue.SimpleQueue[int | BaseException] = queue.SimpleQueue()
        stop = threading.Event()

        def work(context: DecodeContext) -> None:
            context.set_threads(threads_each)
            try:
                while not stop.is_set():
                    try:
                        group = todo.get_nowait()
                    except queue.Empty:
                        return
                    results = context.decode([sequences[i] for i in group], n_out)
                    for i, out in zip(group, results, strict=True):
                        outputs[i] = out
                    finished.put(len(group))
            except BaseException as error:  # handed to the caller's thread
                finished.put(error)

        futures = [self._pool.submit(work, context) for context in self.contexts]
        try:
            done = 0
            while done < len(sequences):
                try:
                    item = finished.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
                except queue.Empty:
                    continue
                if isinstance(item, BaseException):
                    raise item
                done += item
                if progress is not None:
                    progress(done, len(sequences))
        finally:
            stop.set()
            for future in futures:
                future.result()  # no context may still be decoding when the lock is released
        return outputs

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for context in self.contexts:
            context.free()
