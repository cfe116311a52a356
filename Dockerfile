# syntax=docker/dockerfile:1
# The kro-rs operator image: one static binary (musl, rustls; no OpenSSL, no libc at run time)
# on distroless static, running as the non-root user 65532. Build with `docker build -t kro-rs .`
# (BuildKit, the default builder, for the cache mounts).

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-slim AS build
# musl-gcc for the C parts of the dependency tree (aws-lc-sys, ring), make for jemalloc.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools make \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# Cache mounts keep crates and build artefacts between builds without growing the image; the
# binary is copied out of the cached target directory in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    cargo build --release --locked --target x86_64-unknown-linux-musl -p kro-rs --bin kro \
 && cp target/x86_64-unknown-linux-musl/release/kro /kro

# distroless static: CA certificates (for AWS endpoints), /etc/passwd with nonroot, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /kro /kro
USER 65532:65532
# Metrics and health probes (kro run --metrics-bind-address / --health-probe-bind-address).
EXPOSE 8078 8079
ENTRYPOINT ["/kro"]
CMD ["run"]
