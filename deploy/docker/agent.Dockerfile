# Lean sidecar image: the base install only (no torch, chdb, faust, evidently, scikit-learn).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lightkeeper ./lightkeeper
COPY schemas ./schemas
COPY agent ./agent
COPY processors ./processors
COPY alerts ./alerts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home lightkeeper
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/lightkeeper-*.whl && rm -rf /wheels
USER 10001
ENV LIGHTKEEPER_HOST=0.0.0.0 \
    LIGHTKEEPER_PORT=8319 \
    LIGHTKEEPER_DATA_DIR=/var/lib/lightkeeper
VOLUME /var/lib/lightkeeper
EXPOSE 8319
ENTRYPOINT ["lightkeeper", "agent"]
