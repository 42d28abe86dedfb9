"""The child side: run the probes of one spec file and print one ``@@RESULT`` line for each.

``python -m hostile.child SPEC.json``. A probe function takes ``(params, env)`` and returns an
:class:`Outcome` (or None for "clean, correct result"); an exception escaping it is classified
here: a one-line :class:`embed_nb.EmbedNbError` is a clean error, anything else a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Outcome:
    outcome: str  # clean / wrong / traceback / data_loss / leak / hang / crash
    detail: str = ""
    error: bool = False  # a clean outcome that was an error (not a correct result)


@dataclass
class Env:
    """What a probe function may use: the key, the fixtures, its work dir, what it has seen."""

    secret: str
    fixtures: Path
    work: Path
    seen: list[str] = field(default_factory=list)

    @property
    def cache_dir(self) -> Path:
        return Path(os.environ["EMBED_NB_CACHE_DIR"])

    def show(self, *things: Any) -> None:
        """Record what the library showed (reprs, info, printed text) for the leak scan."""
        for thing in things:
            self.seen.append(thing if isinstance(thing, str) else repr(thing))


def ok(detail: str = "") -> Outcome:
    return Outcome("clean", detail)


def bad(outcome: str, detail: str) -> Outcome:
    return Outcome(outcome, detail)


def classify_exception(error: BaseException) -> Outcome:
    """A one-line EmbedNbError is clean; anything else is a traceback."""
    from embed_nb.errors import EmbedNbError

    message = str(error)
    name = type(error).__name__
    if isinstance(error, EmbedNbError):
        if "\n" in message.strip() or "Traceback" in message:
            return Outcome("traceback", f"{name} with a {message.count(chr(10)) + 1}-line message")
        return Outcome("clean", f"{name}: {message[:240]}", error=True)
    if isinstance(error, MemoryError):
        return Outcome("hang", f"MemoryError (unbounded memory): {message[:160]}")
    where = ""
    tb = traceback.extract_tb(error.__traceback__)
    if tb:
        last = tb[-1]
        where = f" at {Path(last.filename).name}:{last.lineno}"
    return Outcome("traceback", f"{name}: {message[:200]}{where}")


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    fixtures = Path(os.environ["HOSTILE_FIXTURES"])
    work = Path(os.environ["HOSTILE_WORK"])
    out = sys.stdout
    for item in spec["probes"]:
        name = item["name"]
        print(f"@@START {name}", file=out, flush=True)
        env = Env(spec["secret"], fixtures, work)
        module_name, func_name = item["func"].split(":")
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                func = getattr(importlib.import_module(f"hostile.{module_name}"), func_name)
                result = func(item["params"], env) or ok()
            except KeyboardInterrupt as error:
                result = Outcome("traceback", f"KeyboardInterrupt escaped: {error}")
                env.show("".join(traceback.format_exception(error)))
            except BaseException as error:
                verdict = getattr(error, "outcome", None)
                if isinstance(verdict, str) and hasattr(error, "detail"):
                    result = Outcome(verdict, str(error.detail))
                elif isinstance(error, SystemExit):
                    result = Outcome("traceback", f"SystemExit({error.code!r})")
                else:
                    result = classify_exception(error)
                env.show(str(error), repr(error), "".join(traceback.format_exception(error)))
        env.show(*(f"{w.category.__name__}: {w.message}" for w in caught))
        payload = {
            "name": name,
            "outcome": result.outcome,
            "detail": result.detail,
            "error": result.error,
            "seconds": round(time.monotonic() - started, 3),
            "seen": env.seen,
        }
        print("@@RESULT " + json.dumps(payload), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
