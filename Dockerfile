# rtk-sessions: a small, non-root image (docs/deployment.md, "Operating it").
#   docker build -t rtk-sessions .
#   docker run -p 8787:8787 -v rtk-data:/data rtk-sessions
# Build stage: wheels of the package and its dependencies (no compilers reach the final image).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RTK_DATA_DIR=/data
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home rtk \
    && install -d -o rtk -g rtk -m 0700 /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels rtk-sessions \
    && rm -rf /wheels
USER rtk
WORKDIR /data
# SQLite database, server secret and download files (unless RTK_DATABASE_URL points elsewhere).
VOLUME ["/data"]
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=2)"]
ENTRYPOINT ["rtk-sessions"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8787"]
