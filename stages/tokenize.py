"""Tokenize train, validation and test tweets with the model's fast tokenizer (the tutorial's MAX_LEN).

Reads: data/split/{train,val,test}.parquet, params `model` (or `teacher` and `release.recipe` with --encoder teacher),
`tokenize`. With --encoder teacher and a recipe that needs no teacher (the first look), it writes the skipped record
instead (complaints.core.skipping), and the teacher's stages downstream skip too.
Writes: data/tokens/{train,val,test}.safetensors (id, input_ids, attention_mask[, labels]), data/tokens/model.json
(the model's name, architecture and vocabulary digest, and max_len: no path, so every checkout writes the same bytes),
reports/tokens.json (token-length statistics per split)
Run:   python -m stages.tokenize --split data/split --out data/tokens --stats reports/tokens.json
       python -m stages.tokenize --encoder teacher --split data/split --out data/teacher_tokens \
           --stats reports/teacher_tokens.json
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.text.encoding import encode, length_stats
from complaints.text.pretrained import ModelParams, TokenizeParams, check_max_len, load_tokenizer, model_record, resolve_model
from complaints.core.io import atomic_dir, read_parquet, write_json
from complaints.core.skipping import ReleaseParams, write_skipped
from complaints.text.teacher_weights import TeacherParams
from complaints.text.tokens import Tokens

SPLITS = ("train", "val", "test")
# The params section naming each encoder.
ENCODERS = {"model": ModelParams, "teacher": TeacherParams}


def main(argv: Sequence[str] | None = None) -> None:
    """Encode every split and record the resolved model."""
    arguments = stage.parser(__doc__)
    arguments.add_argument("--encoder", choices=sorted(ENCODERS), default="model", help="params section naming it")
    for option in ("--split", "--out", "--stats"):
        arguments.add_argument(option, type=Path, required=True)
    args = arguments.parse_args(argv)
    model = load_section(args.params, args.encoder, ENCODERS[args.encoder])
    params = load_section(args.params, "tokenize", TokenizeParams)
    if args.encoder == "teacher" and (reason := load_section(args.params, "release", ReleaseParams).teacher_skipped_reason()):
        write_skipped(reason, [args.out, args.stats])
        return

    location = resolve_model(model.name)
    tokenizer = load_tokenizer(location)
    record = model_record(model.name, location, tokenizer)
    check_max_len(params.max_len, record)

    stats = {}
    with atomic_dir(args.out) as staging:
        for split in SPLITS:
            table = read_parquet(args.split / f"{split}.parquet")
            encoded = encode(tokenizer, table["text"].tolist(), params.max_len)
            stats[f"{split}_tokens"] = length_stats(encoded["full_length"], params.max_len)
            labels = table["label"].to_numpy() if "label" in table else None
            Tokens(table["id"].to_numpy(), encoded["input_ids"], encoded["attention_mask"], labels).save(
                staging / f"{split}.safetensors")
        write_json({**record, "max_len": params.max_len}, staging / "model.json")
    write_json(stats, args.stats)


if __name__ == "__main__":
    stage.run(main)
