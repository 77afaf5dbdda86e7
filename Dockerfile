# syntax=docker/dockerfile:1
# A small image with `loadgen` and `freshmart-stub`, for the Kubernetes manifests in
# deploy/kubernetes/ and for running either tool in a container:
#
#   docker build -t loadgen:0.1.0 .
#   docker run --rm loadgen:0.1.0 loadgen --help
#   docker run --rm -p 8080:8080 loadgen:0.1.0 freshmart-stub --addr 0.0.0.0:8080
#
# Builder: the official Rust image at the project's rust-version (Cargo.toml; .ci/run checks
# that this is not older). Runtime: Debian slim, the same Debian as the builder so the glibc
# matches, with a shell (the Job's script picks the replay's arguments with /bin/sh) and tar (`kubectl cp`).

ARG RUST_VERSION=1.89
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# No debug info in the image's binaries (the release profile keeps some for profiling);
# symbol names stay, so a panic's backtrace still names its functions.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    CARGO_TERM_COLOR=never
COPY . .
# The caches keep downloaded crates and built dependencies between builds (BuildKit); the
# binaries are copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p loadgen -p freshmart-stub --bins \
    && install -D -m 0755 target/release/loadgen target/release/freshmart-stub -t /out/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
LABEL org.opencontainers.image.title="loadgen" \
      org.opencontainers.image.description="loadgen (trace simulator and paced replayer) and freshmart-stub" \
      org.opencontainers.image.licenses="MIT"
# ca-certificates: for tools and mounted CAs; loadgen itself trusts the Mozilla roots built
# into it (webpki-roots) plus any --ca-cert PEM.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A numeric user, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
RUN groupadd --gid 10001 loadgen \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /work --shell /usr/sbin/nologin loadgen \
    && mkdir -p /work /results /trace \
    && chown 10001:10001 /work /results
COPY --from=builder /out/loadgen /out/freshmart-stub /usr/local/bin/
USER 10001:10001
WORKDIR /work
# Both tools stop gracefully on SIGTERM (what `docker stop` and Kubernetes send).
CMD ["loadgen", "--help"]
