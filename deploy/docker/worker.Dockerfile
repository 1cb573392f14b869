# Worker image: stream processors, scorers (ONNX Runtime int8 encoder, no torch), embedded/remote
# ClickHouse, alerting.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lightkeeper ./lightkeeper
COPY schemas ./schemas
COPY agent ./agent
COPY processors ./processors
COPY alerts ./alerts
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home lightkeeper
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir "$(ls /wheels/lightkeeper-*.whl)[worker,alerts]" \
 && rm -rf /wheels
USER 10001
ENV HF_HUB_OFFLINE=1 \
    LIGHTKEEPER_DATA_DIR=/var/lib/lightkeeper \
    LIGHTKEEPER_METRICS_PORT=9464
EXPOSE 9464
ENTRYPOINT ["lightkeeper", "worker"]
