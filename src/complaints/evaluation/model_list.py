"""The `models` section: every fine-tuned model named once, in the groups dvc.yaml and distill/dvc.yaml loop over."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from complaints.core.config import ParamsError, read_params, require

# Each group and the pipeline file whose `foreach` trains it; the teacher's chain lives in distill/dvc.yaml.
GROUPS = {"fits": "dvc.yaml", "refits": "dvc.yaml", "teachers": "distill/dvc.yaml",
          "students": "distill/dvc.yaml", "student_refits": "distill/dvc.yaml"}
# The fields each group's entries must have (every entry names its encoder and recipe).
FIELDS = {"fits": (), "refits": ("fit",), "teachers": (), "students": ("teacher",), "student_refits": ("fit", "teacher")}
ENCODERS = ("model", "teacher")
# The columns of data/distill_targets.csv a student can learn from.
TEACHERS = ("bert_teacher", "teacher")
# Where each pipeline file's summary writes a model's external metrics (metrics/<folder>/<name>.json).
EXTERNAL_METRICS = {"dvc.yaml": "external", "distill/dvc.yaml": "external_distill"}


@dataclass(frozen=True)
class ModelEntry:
    """One fine-tuned model: its folder name, group, encoder section, recipe section, and for a refit the fit whose
    epoch count it takes, for a student the teacher column it learns from."""

    name: str
    group: str
    encoder: str
    recipe: str
    fit: str | None = None
    teacher: str | None = None

    @property
    def pipeline(self) -> str:
        """The pipeline file that trains it."""
        return GROUPS[self.group]

    @property
    def trained_on(self) -> str:
        """Its training tweets, in words."""
        labeled = "all labeled tweets" if self.fit else "the training split"
        return labeled + (" + the unlabeled tweets (when `distill.unlabeled`)" if self.teacher else "")

    def describe(self) -> str:
        """One line: what it is and what it learned from."""
        encoder = "all-mpnet-base-v2" if self.encoder == "teacher" else "the embedded MiniLM"
        parts = [f"recipe `{self.recipe}` on {encoder}", self.trained_on]
        if self.fit:
            parts.append(f"epochs chosen by `{self.fit}`")
        if self.teacher:
            parts.append(f"distilled from `{self.teacher}`")
        return ", ".join(parts)

    def external_metrics(self, metrics: Path) -> Path:
        """Its external metrics file under the metrics folder."""
        return metrics / EXTERNAL_METRICS[self.pipeline] / f"{self.name}.json"


def parse_models(section: object, params: dict) -> dict[str, ModelEntry]:
    """The `models` section checked: known groups, each entry's fields, recipes that exist, fits that are fits."""
    require(isinstance(section, dict) and set(section) <= set(GROUPS), "models", section,
            f"a mapping of groups ({', '.join(GROUPS)})")
    entries: dict[str, ModelEntry] = {}
    for group, models in section.items():
        require(isinstance(models, dict), f"models.{group}", models, "a mapping of model names to entries")
        for name, fields in models.items():
            key = f"models.{group}.{name}"
            needed = ("encoder", "recipe", *FIELDS[group])
            require(isinstance(fields, dict) and set(fields) == set(needed), key, fields,
                    f"exactly the fields {', '.join(needed)}")
            require(name not in entries, key, name, "a name no other group uses")
            require(fields["encoder"] in ENCODERS, f"{key}.encoder", fields["encoder"], f"one of {', '.join(ENCODERS)}")
            require(isinstance(params.get(fields["recipe"]), dict), f"{key}.recipe", fields["recipe"],
                    "the name of a params section holding a training recipe")
            require(fields.get("teacher", TEACHERS[0]) in TEACHERS, f"{key}.teacher", fields.get("teacher"),
                    f"one of {', '.join(TEACHERS)}")
            entries[name] = ModelEntry(name, group, **fields)
    for entry in entries.values():
        fit_group = "students" if entry.teacher else "fits"
        if entry.fit is not None and (entry.fit not in entries or entries[entry.fit].group != fit_group):
            raise ParamsError(f"params key 'models.{entry.group}.{entry.name}.fit': got {entry.fit!r}, expected a "
                              f"model of models.{fit_group}")
    return entries


def load_models(params_path: Path) -> dict[str, ModelEntry]:
    """Every model of the params file's `models` section, in the order written."""
    params = read_params(params_path)
    if "models" not in params:
        raise ParamsError(f"{params_path}: no `models` section, the list of fine-tuned models")
    return parse_models(params["models"], params)


def group_names(models: dict[str, ModelEntry], groups: list[str]) -> list[str]:
    """The names of the models in these groups, in the order written."""
    return [name for name, entry in models.items() if entry.group in groups]
