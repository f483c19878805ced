# One image for the three services; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY data ./data
RUN pip install --no-cache-dir .
ENV PR_INGEST_HOST=0.0.0.0 PR_REVIEW_HOST=0.0.0.0 PR_SCORING_WEB_HOST=0.0.0.0 PR_SCORING_DATA_DIR=/tmp/scoring
EXPOSE 8001 8002 8003
