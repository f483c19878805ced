# Pipeline Review: the README's commands.
.PHONY: up down status logs lint test test-unit chaos soak bench bench-full client openapi clean

up:            ## install what is missing, start Kafka, Redis and the services, load demo data
	@deploy/stack.sh up

down:          ## stop everything `make up` started
	@deploy/stack.sh down

status:
	@deploy/stack.sh status

logs:          ## follow the logs of every process
	@deploy/stack.sh logs

lint:          ## ruff, mypy and the import contracts (settings in pyproject.toml); .ci/run runs it before the tests
	@deploy/setup.sh
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports

test:          ## set up, start a test Kafka and Redis, run the whole suite
	@deploy/test.sh

test-unit:     ## only the pure-logic tests (no Kafka, no Redis)
	@deploy/setup.sh && .venv/bin/python -m pytest -m unit -q

chaos:         ## the long fault scenarios (broker kill -9 under load, ...) on a private Kafka and Redis; writes docs/reliability.md
	@deploy/chaos.sh

soak:          ## 30 minutes at 200 events/s on a private Kafka and Redis: memory, freshness p50/p99, errors; writes docs/reliability.md
	@deploy/soak.sh $(SOAK_ARGS)

bench:         ## benchmarks against raw baselines, quick mode (10k and 100k deals, the quix-streams peer at 10k, about 6 minutes)
	@deploy/setup.sh && .venv/bin/python bench/run.py --quick

bench-full:    ## the same at 10k, 100k and 1M deals with longer runs, the quix-streams peer at 10k and 100k (about 35 minutes)
	@deploy/setup.sh && .venv/bin/python bench/run.py

client:        ## regenerate the typed review client (clients/review-client) from review's OpenAPI document
	@deploy/setup.sh && deploy/client.sh

openapi:       ## refresh the committed OpenAPI snapshots (docs/openapi/) after a deliberate contract change
	@deploy/setup.sh && .venv/bin/python deploy/openapi_snapshot.py

clean: down
	rm -rf .run .venv
