.PHONY: run test bench lint
run:   ## install everything and run the demo
	bash scripts/quickstart.sh
test:  ## run the whole test suite
	bash scripts/test.sh
lint:
	.venv/bin/ruff check app tests bench
	.venv/bin/lint-imports
	.venv/bin/mypy --strict app/domain app/db
bench:
	.venv/bin/python bench/identities.py
