# Two commands on a fresh machine: `make screen` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MIRROR ?= ../shared/dk-layers

# The one visible place where the default run accepts missing exclusion layers. The mirror's § 3 copy
# covers six municipalities west of Copenhagen only (section3_vestegnen_subset, see
# ../shared/dk-layers/INVENTORY.md): a site outside it says "incomplete: bes_naturtyper missing (outside
# the coverage of the available copy)". Habitat areas and naturnationalparker come from provisional
# copies and are checked (every output says so). Empty it when the national § 3 layer is reachable.
ALLOW_MISSING := bes_naturtyper

# Default inputs: files in data/submissions/ when there are any, else the approximate 2025 applications.
SUBMISSIONS := $(wildcard data/submissions/*.geojson data/submissions/*.gpkg data/submissions/*.zip data/submissions/*.parquet)
ifeq ($(strip $(SUBMISSIONS)),)
SUBMISSIONS := $(MIRROR)/submissions/applications_2025_approx.gpkg
endif

.PHONY: screen scenarios surface test bench preview serve lint clean venv translations overview

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

ALLOW := $(foreach id,$(ALLOW_MISSING),--allow-missing $(id))
SURFACE := reports/surface/latest

# The national 100 m surface (about 10 s) is rebuilt only when the rules change; `make surface` forces it.
# (The run refuses a surface whose config hash differs from its own.)
$(SURFACE)/suitability.tif: layers/criteria.yaml layers/catalog.yaml | $(STAMP)
	$(BIN)/industripark surface --out reports/surface $(ALLOW)

screen: $(STAMP) $(SURFACE)/suitability.tif
	$(BIN)/industripark screen $(SUBMISSIONS) --out reports --surface $(SURFACE) $(ALLOW)

# The policy scenarios of layers/scenarios/ side by side (reports/<timestamp>/scenarios/scenarios.html).
scenarios: $(STAMP)
	$(BIN)/industripark scenarios $(SUBMISSIONS) --out reports $(ALLOW)

surface: $(STAMP)
	$(BIN)/industripark surface --out reports/surface $(ALLOW)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks.run

# make preview FILE=my_submission.geojson
preview: $(STAMP)
	$(BIN)/industripark preview $(FILE) $(ALLOW)

serve: $(STAMP)
	$(BIN)/industripark serve $(ALLOW)

# The overview map (docs/OVERVIEW.md): a static site in reports/overview/latest/; npm ci installs its JavaScript.
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

overview: $(STAMP) node_modules/.package-lock.json
	$(BIN)/industripark overview --out reports/overview $(ALLOW)

# Re-extract the texts users read (babel.cfg) and update the Danish catalog; then translate the new entries.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project industripark-screening \
		-o screening/locale/messages.pot screening
	$(BIN)/pybabel update -i screening/locale/messages.pot -d screening/locale -l da --no-fuzzy-matching --ignore-obsolete

lint: $(STAMP)
	$(BIN)/ruff check screening tests

clean:
	rm -rf $(VENV) data/cache .pytest_cache build *.egg-info
	find reports -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
