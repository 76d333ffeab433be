# JobCast's image: `jobcast` built by Swift's official Linux image, run on a slim Debian with only what it needs.
#
#   docker build -t jobcast:latest .          # or: docker compose build
#   docker run --rm jobcast:latest config     # the JOBCAST_* variables it reads
#
# The entrypoint is `jobcast`; the command picks the role (`worker --channel platform`, `dashboard`, …).

# The toolchain the tests run with (Swift 6.3 on Debian 12).
ARG SWIFT_IMAGE=swift:6.3-bookworm

# ---- build: a release binary with the Swift runtime linked in ----
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librabbitmq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift names test and benchmark targets too: their folders must be there for it to load.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks ./Benchmarks
# The resource bundles (templates, the dashboard page) go next to the executable: Bundle.module looks there.
RUN swift build -c release --static-swift-stdlib --product jobcast \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/jobcast" /staging/ \
    && cp -R "$(swift build -c release --show-bin-path)"/*.resources /staging/ \
    && strip /staging/jobcast

# ---- run: the binary, rabbitmq-c, CA certificates, time zones; nothing else ----
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends librabbitmq4 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 jobcast \
    && useradd --system --uid 10001 --gid jobcast --home-dir /var/lib/jobcast --shell /usr/sbin/nologin jobcast \
    && install -d -o jobcast -g jobcast /var/lib/jobcast /var/lib/jobcast/outbox
COPY --from=build /staging/ /opt/jobcast/
COPY Schemas /opt/jobcast/Schemas
COPY Samples /opt/jobcast/Samples
RUN ln -s /opt/jobcast/jobcast /usr/local/bin/jobcast

USER jobcast
WORKDIR /var/lib/jobcast
# In a container the worker listens beyond loopback (Prometheus scrapes it), which requires JOBCAST_HTTP_TOKEN
# (or _FILE); the outbox and a default SQLite store live under the working directory.
ENV JOBCAST_HTTP_HOST=0.0.0.0 \
    JOBCAST_HTTP_PORT=9464 \
    JOBCAST_OUTBOX_DIR=/var/lib/jobcast/outbox \
    TZ=Asia/Shanghai
EXPOSE 9464
# docker stop / docker compose stop: SIGTERM lets in-flight deliveries finish within JOBCAST_SHUTDOWN_TIMEOUT.
STOPSIGNAL SIGTERM
# GET 127.0.0.1:$JOBCAST_HTTP_PORT/healthz (no curl in the image: jobcast asks itself).
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 CMD ["jobcast", "health"]
ENTRYPOINT ["jobcast"]
CMD ["worker"]
