"""Tokenize train, validation and test tweets with the model's fast tokenizer (the tutorial's MAX_LEN).

Reads: data/split/{train,val,test}.parquet, the encoder's params section (`model`, or `teacher` with --encoder
teacher), `tokenize`.
Writes: data/tokens/{encoder}/{train,val,test}.safetensors (id, input_ids, attention_mask[, labels]) and model.json
(the model's name, architecture and vocabulary digest, and max_len: no path, so every checkout writes the same bytes),
reports/tokens/{encoder}.json (token-length statistics per split)
Run:   python -m stages.tokenize --encoder model --split data/split --out data/tokens/model --stats reports/tokens/model.json
       python -m stages.tokenize --encoder teacher --split data/split --out data/tokens/teacher \
           --stats reports/tokens/teacher.json
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from complaints.core import stage
from complaints.core.config import load_section
from complaints.text.encoding import encode, length_stats
from complaints.text.pretrained import ModelParams, TokenizeParams, check_max_len, load_tokenizer, model_record, resolve_model
from complaints.core.io import atomic_dir, read_parquet, write_json
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

    location = resolve_model(model.name, args.params)
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
