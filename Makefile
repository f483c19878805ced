# Pipeline Review: the README's commands.
.PHONY: up down status logs test test-unit bench clean

up:            ## install what is missing, start Kafka, Redis and the services, load demo data
	@deploy/stack.sh up

down:          ## stop everything `make up` started
	@deploy/stack.sh down

status:
	@deploy/stack.sh status

logs:          ## follow the logs of every process
	@deploy/stack.sh logs

test:          ## set up, start a test Kafka and Redis, run the whole suite
	@deploy/test.sh

test-unit:     ## only the pure-logic tests (no Kafka, no Redis)
	@deploy/setup.sh && .venv/bin/python -m pytest -m unit -q

clean: down
	rm -rf .run .venv
