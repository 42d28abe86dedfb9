#!/usr/bin/env python
"""Hostile probes for embed_nb: the evidence table of issue 9 ("Must show").

Every probe feeds embed_nb one hostile input (an option value, a crafted GGUF, a damaged cache,
a hostile fake server, a magic line, a CLI invocation...) in a subprocess of its own, and is
classified as clean (a one-line EmbedNbError or a correct result), wrong, traceback, crash,
hang, data loss or leak. See docs/hardening.md.

    python scripts/hostile_probes.py                 # everything, 2 children at a time
    python scripts/hostile_probes.py --quick         # a subset, a few minutes
    python scripts/hostile_probes.py --only remote --jobs 1 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hostile import core, runner_state

AREA_MODULES = {
    "engine": "p_engine",
    "files": "p_files",
    "remote": "p_remote",
    "front": "p_front",
}


def _build_fixtures(ctx: core.Context, quick: bool) -> None:
    manifest = ctx.fixtures / "manifest.json"
    if manifest.is_file():
        return
    env = core.child_env(ctx, ctx.workroot / "fixtures-work", {})
    env["EMBED_NB_CACHE_DIR"] = str(ctx.fixtures / "defcache")
    (ctx.workroot / "fixtures-work").mkdir(parents=True, exist_ok=True)
    cmd = [ctx.python, "-m", "hostile.fixtures", str(ctx.fixtures), *(["--quick"] if quick else [])]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not manifest.is_file():
        sys.exit(f"building the fixtures failed:\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(AREA_MODULES),
                        help="run only this area (may be repeated)")
    parser.add_argument("--match", help="run only probes whose name contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="children at a time (default 2)")
    parser.add_argument("--quick", action="store_true", help="a subset for a fast check")
    parser.add_argument("--json", type=Path, help="write every result to this JSON file")
    parser.add_argument("--markdown", type=Path, help="write the table and list to this file")
    parser.add_argument("--fixtures", type=Path,
                        help="reuse (or build once into) this fixtures directory")
    parser.add_argument("--tree", type=Path, default=core.REPO,
                        help="probe the embed_nb of another source tree (e.g. an old commit "
                        "unpacked with git archive), to check that the probes still find what "
                        "the issue found")
    parser.add_argument("--keep", action="store_true", help="keep every probe's work directory")
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every result")
    args = parser.parse_args(argv)

    workroot = Path(tempfile.mkdtemp(prefix="hostile-"))
    fixtures = (args.fixtures or workroot / "fixtures").resolve()
    ctx = core.Context(workroot, fixtures, core.make_secret(), keep=args.keep,
                       verbose=args.verbose)
    ctx.default_cache = fixtures / "defcache"
    ctx.tree = args.tree.resolve()
    started = time.monotonic()
    print(f"work directory {workroot}; building fixtures in {fixtures} ...", flush=True)
    _build_fixtures(ctx, args.quick)
    runner_state.FIXTURES = fixtures

    import importlib

    probes: list[core.Probe] = []
    for area in args.only or list(AREA_MODULES):
        module = importlib.import_module(f"hostile.{AREA_MODULES[area]}")
        probes += module.probes(args.quick)
    if args.match:
        probes = [p for p in probes if args.match in p.name]
    names = [p.name for p in probes]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        sys.exit(f"duplicate probe names: {sorted(duplicates)[:5]}")
    if args.list:
        for p in probes:
            print(f"{p.area:7} {p.kind:10} {p.name}")
        print(f"{len(probes)} probes")
        return 0
    print(f"{len(probes)} probes, {args.jobs} at a time ({time.monotonic() - started:.0f} s "
          "for fixtures)", flush=True)
    count = 0

    def progress(r: core.Result) -> None:
        nonlocal count
        count += 1
        if args.verbose or r.outcome != "clean":
            print(f"[{count}/{len(probes)}] {r.outcome:9} {r.name}: {r.detail[:160]}", flush=True)
        elif count % 25 == 0:
            print(f"[{count}/{len(probes)}] ...", flush=True)

    results = core.run_all(ctx, probes, args.jobs, progress)
    elapsed = time.monotonic() - started
    commit = subprocess.run(["git", "-C", str(core.REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(core.REPO), "status", "--porcelain", "embed_nb"],
                           capture_output=True, text=True).stdout.strip()
    if ctx.tree != core.REPO:
        commit, dirty = f"(tree {ctx.tree})", ""
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    clean = [r for r in results if r.outcome == "clean"]
    n_err = sum(r.clean_error for r in clean)
    dirty_note = " (+ uncommitted changes in embed_nb/)" if dirty else ""
    header = (f"Run {when} at commit {commit}{dirty_note}"
              f", {len(results)} probes in {elapsed:.0f} s with --jobs {args.jobs}"
              f"{' --quick' if args.quick else ''}. Clean: {n_err} one-line errors and "
              f"{len(clean) - n_err} correct results.")
    report = f"{header}\n\n{core.table(results)}\n\n## Not clean\n{core.non_clean(results)}\n"
    print("\n" + report)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        core.dump_json(results, args.json, {"commit": commit, "dirty": bool(dirty), "when": when,
                                            "seconds": round(elapsed), "quick": args.quick,
                                            "jobs": args.jobs})
    print(f"probe work directories kept for the non-clean probes under {workroot}")
    if not args.keep and args.fixtures is None:
        pass  # fixtures stay with the work dir, for reruns of single probes with --fixtures
    return 0 if all(r.outcome == "clean" for r in results) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
