# The two commands of the README: `make pipeline` and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup pipeline test check-plots

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/pip install --quiet -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import stages.download, stages.split, stages.baseline, stages.tokenize, stages.train, stages.seeds, stages.evaluate, stages.ensemble, stages.compare, stages.predict, stages.threshold"
	touch $@

pipeline: setup
	dvc repro
	dvc metrics show

test: setup
	pytest

# Render `dvc plots show` offline and check every chart in headless Chromium (Debian: apt-get install chromium).
check-plots: setup
	bash checks/plots.sh
