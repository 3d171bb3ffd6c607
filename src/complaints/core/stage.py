"""What every stage entry point shares: logging, the params path, and clean failures."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pathlib import Path

from complaints.core.config import ParamsError
from complaints.core.io import DataError

# OSError covers files that are missing or unreadable (FileNotFoundError among them) and model folders that fail to load.
EXPECTED_ERRORS = (ParamsError, DataError, OSError)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the shared `--params` option."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return arguments


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None,
        setup: Callable[[Path], None] | None = None) -> None:
    """Run a stage's main, after `setup` reads what it needs from the params file (a training or scoring stage:
    `machine.pin_threads`); an expected error exits 1 with one clear line, not a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        if setup is not None:
            setup(Path(parser("").parse_known_args(argv)[0].params))
        main(argv)
    except EXPECTED_ERRORS as error:
        logging.getLogger("complaints").error("%s", error)
        sys.exit(1)
