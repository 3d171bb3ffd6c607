"""The `complaints` command: score tweets from the shell, from files, or over HTTP, with the pipeline's model and threshold.

    complaints predict "@united lost my bag again" "thanks for the upgrade"
    complaints predict - < tweets.txt                       # one tweet per line
    complaints predict --input tweets.csv --text-column tweet --id-column id --output scored.parquet
    complaints serve --port 8000                            # POST /predict, GET /health, GET /info, /docs

Output columns: the id (or the text), `non_complaint_probability`, `label` (`complaint` or `non-complaint`: a tweet is a
non-complaint when its probability is above the threshold). The model defaults to `models/serving` (the refit model
with its ONNX graphs, run by ONNX Runtime), the threshold to the one the model folder carries (its `threshold.json`,
chosen by the pipeline's `threshold` stage). Nothing else is read: the same folder gives the same labels from any
working directory. An empty or blank tweet is scored as the tokenize stage encodes it (`[CLS] [SEP]`). Errors print one line on stderr and exit 1; nothing is written.
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from complaints.core.config import ParamsError, load_section
from complaints.core.io import DataError

DEFAULT_MODEL = Path("models") / "serving"
CHUNK_SIZE = 2048


def arguments() -> argparse.ArgumentParser:
    """The `predict` and `serve` subcommands."""
    parser = argparse.ArgumentParser(prog="complaints", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder (default: %(default)s)")
    shared.add_argument("--threshold", type=probability_argument,
                        help="non-complaint above this probability (default: the model folder's threshold.json)")
    shared.add_argument("--batch-size", type=positive_int, help="tweets per model call (default: 64, or params `serve`)")
    shared.add_argument("--engine", choices=("auto", "torch", "onnx", "onnx-int8"), default="auto",
                        help="what runs the model: PyTorch, or ONNX Runtime fp32 or int8 (default: auto, onnx when the "
                             "folder has model.onnx, else torch)")

    predict = commands.add_parser("predict", parents=[shared], help="score tweets given as arguments, on stdin or in a file")
    predict.add_argument("texts", nargs="*", help="tweets to score; `-` reads one tweet per line from stdin")
    predict.add_argument("--input", type=Path, help="a CSV, JSON Lines (.jsonl) or Parquet file of tweets")
    predict.add_argument("--text-column", help="the input's column of tweets")
    predict.add_argument("--id-column", help="the input's column of ids, written instead of the text")
    predict.add_argument("--output", type=Path, help="where to write (.csv, .jsonl or .parquet); default: CSV on stdout")

    summary = commands.add_parser("summary", help="the pipeline's results in a few lines (what `make pipeline` ends with)")
    summary.add_argument("--metrics", type=Path, default=Path("metrics"), help="metrics folder (default: %(default)s)")
    summary.add_argument("--params", type=Path, default=Path("params.yaml"),
                         help="params file whose `models` section lists the fine-tuned models (default: %(default)s)")

    serve = commands.add_parser("serve", parents=[shared], help="serve POST /predict over HTTP with FastAPI and uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--workers", type=positive_int, default=1, help="processes, each with the model (default: 1)")
    serve.add_argument("--params", type=Path, default=Path("params.yaml"),
                       help="params file whose `serve` section sets the limits, when it exists (default: %(default)s)")
    for option, meaning in (("--max-texts", "texts per request"), ("--max-chars", "characters per text"),
                            ("--max-body-bytes", "bytes of request body"),
                            ("--max-in-flight-texts", "texts waiting at once"),
                            ("--batch-max-texts", "texts per batch of concurrent requests")):
        serve.add_argument(option, type=positive_int, help=f"at most this many {meaning} (default: params `serve`)")
    serve.add_argument("--batch-wait-ms", type=float, help="let a batch fill this long (default: params `serve`)")
    serve.add_argument("--access-log", action="store_true",
                       help="log a line per request (off by default: it costs about a sixth of a single-tweet request's CPU)")
    return parser


def probability_argument(value: str) -> float:
    """A threshold in [0, 1)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1)")
    return number


def positive_int(value: str) -> int:
    """An integer >= 1."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer >= 1")
    return int(value)


def predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Score the tweets of the arguments, stdin or a file."""
    import itertools

    import pandas as pd

    from complaints.serving.modelfolder import check_model_folder, folder_threshold, resolve_engine
    from complaints.serving.tweetfiles import file_format, read_chunks

    if args.input is None and not args.texts:
        parser.error("predict: give tweets, `-` for stdin, or --input FILE --text-column COLUMN")
    if args.input is not None and args.texts:
        parser.error("predict: give tweets or --input, not both")
    if args.input is not None and not args.text_column:
        parser.error("predict: --input needs --text-column")
    # Everything that can be checked is checked before the model loads.
    engine = resolve_engine(args.model, args.engine)
    check_model_folder(args.model, engine)
    threshold = args.threshold if args.threshold is not None else folder_threshold(args.model).value
    if args.output is not None:
        file_format(args.output)
    if args.input is None:
        texts = read_stdin_lines() if args.texts == ["-"] else args.texts
        scored = scorer(args.model, args.batch_size or 64, threshold, engine)
        write_rows(scored(pd.DataFrame({"id": texts, "text": texts})).rename(columns={"id": "text"}), args.output)
        return
    chunks = read_chunks(args.input, args.text_column, args.id_column, CHUNK_SIZE)
    first = next(chunks, None)  # the file's columns and first rows are checked before the model loads
    scored = scorer(args.model, args.batch_size or 64, threshold, engine)
    score_file(itertools.chain([] if first is None else [first], chunks), scored, args.id_column or args.text_column,
               args.input, args.output)


def scorer(model: Path, batch_size: int, threshold: float, engine: str):
    """A function from a chunk of (`id`, `text`) rows to (`id`, `non_complaint_probability`, `label`)."""
    from transformers.utils import logging as transformers_logging

    from complaints.core.decision import label_words
    from complaints.serving.predictor import Predictor

    transformers_logging.disable_progress_bar()
    predictor = Predictor.load(model, batch_size, engine=engine)

    def scored(chunk):
        probability = predictor.non_complaint_probability(chunk["text"].tolist())
        return chunk[["id"]].assign(non_complaint_probability=probability, label=label_words(probability, threshold))

    return scored


def read_stdin_lines() -> list[str]:
    """One tweet per line of standard input, which must be UTF-8."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"stdin: not valid UTF-8 at byte {error.start}") from None


def score_file(chunks, scored, id_name: str, source: Path, output: Path | None) -> None:
    """Stream chunks of a tweet file through the predictor, with a progress bar, into `output` (or stdout at the end)."""
    import pandas as pd
    from tqdm.auto import tqdm

    from complaints.serving.tweetfiles import table_writer

    with tqdm(unit=" tweets", desc=str(source), disable=None, file=sys.stderr) as progress:
        if output is None:
            # Held until the last chunk is scored (ids and scores only), so a bad row leaves stdout empty.
            results = []
            for chunk in chunks:
                results.append(scored(chunk).rename(columns={"id": id_name}))
                progress.update(len(chunk))
            write_rows(pd.concat(results, ignore_index=True) if results else pd.DataFrame(
                columns=[id_name, "non_complaint_probability", "label"]), None)
            return
        with table_writer(output) as writer:
            for chunk in chunks:
                writer.write(scored(chunk).rename(columns={"id": id_name}))
                progress.update(len(chunk))


def write_rows(rows, output: Path | None) -> None:
    """Rows to `output` (by extension) or as CSV on stdout."""
    if output is None:
        rows.to_csv(sys.stdout, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        return
    from complaints.serving.tweetfiles import table_writer

    with table_writer(output) as writer:
        writer.write(rows)


# An idle keep-alive connection closes after 5 s; on SIGTERM, requests in flight get 30 s to be answered.
SERVER_TIMEOUTS = {"timeout_keep_alive": 5, "timeout_graceful_shutdown": 30}


def serve(args: argparse.Namespace) -> None:
    """Run the HTTP service with uvicorn: check the model and threshold first, then start the workers."""
    import uvicorn

    from complaints.core.machine import available_cpus
    from complaints.serving.modelfolder import check_model_folder, folder_threshold, resolve_engine
    from complaints.serving.service import SETTINGS_VARIABLE, HeaderCappedHttpTools, ServeParams, ServeSettings

    engine = resolve_engine(args.model, args.engine)
    check_model_folder(args.model, engine)
    if args.threshold is None:
        folder_threshold(args.model)
    limits = load_section(args.params, "serve", ServeParams) if args.params.is_file() else ServeParams()
    overrides = {"max_texts": args.max_texts, "max_chars": args.max_chars, "max_body_bytes": args.max_body_bytes,
                 "max_in_flight_texts": args.max_in_flight_texts, "batch_max_texts": args.batch_max_texts,
                 "batch_wait_ms": args.batch_wait_ms, "batch_size": args.batch_size}
    limits = ServeParams(**(vars(limits) | {key: value for key, value in overrides.items() if value is not None}))
    settings = ServeSettings(model=str(args.model.resolve()), engine=engine, threshold=args.threshold, limits=limits,
                             threads=max(1, available_cpus() // args.workers))
    os.environ[SETTINGS_VARIABLE] = settings.to_json()
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it found: a stop that was
    # asked for is a success, so that handler exits 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.run("complaints.serving.service:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", http=HeaderCappedHttpTools, loop="uvloop",
                access_log=args.access_log, **SERVER_TIMEOUTS)


def summary(args: argparse.Namespace) -> None:
    """The headline metrics (in git, as `dvc metrics show` reads them): the baseline, each model of the models list
    and each combination on validation and on the external set, the threshold and the test count at it, and where the
    report and release are. A model the last run did not make (the teacher's chain on the quick path) shows dashes."""
    from complaints.core.io import read_json
    from complaints.evaluation.model_list import load_models

    def figures(path: Path) -> dict | None:
        return read_json(path) if path.is_file() else None

    external = args.metrics / "external"
    rows = [("baseline", args.metrics / "baseline.json", external / "baseline.json")]
    rows += [(name, args.metrics / f"{name}.json", entry.external_metrics(args.metrics))
             for name, entry in load_models(args.params).items()]
    rows += [("seeds (mean)", args.metrics / "seeds.json", None),
             ("ensemble", args.metrics / "ensemble.json", external / "ensemble.json"),
             ("refit_ensemble", None, external / "refit_ensemble.json"),
             ("bert_teacher", args.metrics / "bert_teacher.json", args.metrics / "external_distill" / "bert_teacher.json"),
             ("serving", None, external / "serving.json")]
    print(f"{'':<20} {'validation AUC':>14} {'accuracy':>9} {'external AUC':>13} {'accuracy':>9}")
    for name, validation, external_file in rows:
        cells = []
        for path in (validation, external_file):
            values = figures(path) if path is not None else None
            cells += [f"{values['auc']:.4f}", f"{values['accuracy']:.2%}"] if values else ["-", "-"]
        print(f"{name:<20} {cells[0]:>14} {cells[1]:>9} {cells[2]:>13} {cells[3]:>9}")
    threshold = read_json(args.metrics / "threshold.json")
    print(f"\ntest: {threshold['non_complaints']:,} tweets called non-complaint at {threshold['threshold']:.4f}")
    print("models: params.yaml `models` (docs/architecture.md); report: reports/report.md\nrelease: models/release "
          "(model card: models/release/README.md; `dvc artifacts get . complaint-classifier`)")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `complaints` console script."""
    parser = arguments()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="complaints: %(levelname)s %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        if args.command == "predict":
            predict(args, parser)
        elif args.command == "summary":
            summary(args)
        else:
            serve(args)
    except (DataError, ParamsError, OSError) as error:
        print(f"complaints: error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
