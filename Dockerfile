# One image for the three services; docker-compose.yml picks the command.
# The dashboard's chart library comes from the npm registry (as deploy/setup.sh fetches it).
FROM node:20-slim AS chart
WORKDIR /chart
RUN npm pack chart.js@4.5.1 --silent && tar xzf chart.js-4.5.1.tgz package/dist/chart.umd.min.js package/LICENSE.md

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY --from=chart /chart/package/dist/chart.umd.min.js ./services/review/static/vendor/chart.umd.min.js
COPY --from=chart /chart/package/LICENSE.md ./services/review/static/vendor/chart.js-LICENSE.md
COPY data ./data
RUN pip install --no-cache-dir ".[otel]"
# The services never need root: they run as an unprivileged user that owns only its data dir
# (the scoring worker's faust directory).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pipeline \
    && mkdir -p /var/lib/pipeline-review/scoring \
    && chown -R pipeline:pipeline /var/lib/pipeline-review
ENV PR_INGEST_HOST=0.0.0.0 PR_REVIEW_HOST=0.0.0.0 PR_SCORING_WEB_HOST=0.0.0.0 \
    PR_SCORING_DATA_DIR=/var/lib/pipeline-review/scoring
USER pipeline
EXPOSE 8001 8002 8003
