# syntax=docker/dockerfile:1
# The costjob image the nightly ECS task runs (terraform/modules/costjob-task),
# built for the task's platform (ARM64: Terraform's image_platform output):
#   docker buildx build --platform linux/arm64 --build-arg COSTJOB_VERSION="$(cargo run -q --release -- --version | cut -d' ' -f2)" -t costjob:<version> .
# On an x86 machine buildx builds it under QEMU emulation (slow: tens of
# minutes); an ARM64 builder (a Graviton instance or CI runner) builds natively.
# Linted in CI (hadolint, tests/all.sh); no Docker engine runs there, so the
# build itself is not exercised by the test command.

FROM rust:1.95-slim-bookworm AS build
ARG COSTJOB_VERSION
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked \
 && strip target/release/costjob \
 && test "$(target/release/costjob --version)" = "costjob ${COSTJOB_VERSION}"

# distroless: glibc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG COSTJOB_VERSION
LABEL org.opencontainers.image.title="costjob" \
      org.opencontainers.image.description="What each transaction costs on AWS, to the last 1e-10 USD" \
      org.opencontainers.image.version="${COSTJOB_VERSION}"
WORKDIR /etc/costjob
COPY deploy/costjob.toml ./costjob.toml
COPY pricing ./pricing
COPY --from=build /src/target/release/costjob /usr/local/bin/costjob
# The task definition runs it as 65534:65534 (nobody) with a read-only root
# filesystem and a scratch volume on /tmp; the image's default user is non-root too.
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/costjob"]
CMD ["refresh"]
