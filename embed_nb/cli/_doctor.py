"""``embed-nb doctor``: load a model and say what looks wrong with it (see
:mod:`embed_nb.model_doctor`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..flags import add_flags
from ._commands import load, write
from ._parser import _add_model_options


def add_doctor_command(commands: Any) -> None:
    """Add ``doctor`` to the sub-commands (``commands`` is argparse's subparsers action)."""
    doctor = commands.add_parser(
        "doctor",
        help="check a model for silent mistakes: pooling, EOS, prompts, quantisation",
        description="Load a model and check it for the mistakes that quietly make its "
        "embeddings worse; each warning names its fix.",
        allow_abbrev=False,
    )
    _add_model_options(doctor)
    add_flags(doctor, ["pooling"])
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")


def doctor_command(args: argparse.Namespace) -> None:
    from ..model_doctor import doctor

    pooling = {"pooling": args.pooling} if args.pooling else {}
    with load(args, **pooling) as model:
        diagnosis = doctor(model)
    if args.json:
        write(json.dumps(diagnosis.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        write(repr(diagnosis) + "\n")
