# The two quick-start commands:
#   make demo   sets up .venv and predicts emotions on the bundled example clips and a long recording
#   make test   sets up .venv and runs the test suite (what CI runs)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= $(or $(SERKIT_DATA),../shared/data)

.PHONY: setup demo test benchmarks clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The lock pins every package; torch==2.13.0 resolves to the CPU wheel on local disk.
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test,whisper]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/serkit corpus info --corpus emodb --root examples/emodb
	$(BIN)/python examples/make_long_recording.py out/long-example.wav
	$(BIN)/serkit predict examples/emodb/wav out/long-example.wav

test: $(STAMP)
	# One BLAS/OpenMP thread per test worker: two workers already fill two cores.
	SERKIT_DATA=$(DATA) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/pytest -n 2 --dist loadfile -q

benchmarks: $(STAMP)
	SERKIT_DATA=$(DATA) $(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) out .pytest_cache
