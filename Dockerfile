# syntax=docker/dockerfile:1
# Weir's controller images for Docker users: the same FROM-scratch images as
# `cargo xtask image` (buildah, xtask/src/image.rs); keep the two in step.
#
#   docker build --target source-controller -t weir/source-controller:dev .
#   docker build --target kustomize-controller -t weir/kustomize-controller:dev .
#
# Labels: --build-arg REVISION=$(git rev-parse HEAD) --build-arg SOURCE=<repository URL>.

ARG DEBIAN=bookworm
ARG RUST_VERSION=1.95

# Static release builds (glibc static-pie) of every controller, in one cargo invocation.
FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
      -p source-controller -p kustomize-controller \
 && mkdir /out \
 && for bin in source-controller kustomize-controller; do \
      cp "target/x86_64-unknown-linux-gnu/release/$bin" /out/; \
    done

# /rootfs: what every image has (CA bundle, user weir 65532, nsswitch.conf, a writable /tmp).
# /ssh: ssh and the /bin/sh that runs it (source-controller's SSH URLs), with their libraries.
FROM debian:${DEBIAN}-slim AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp \
 && chmod 1777 /rootfs/tmp \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nweir:x:65532:65532:weir:/tmp:/sbin/nologin\n' \
      > /rootfs/etc/passwd \
 && printf 'root:x:0:\nweir:x:65532:\n' > /rootfs/etc/group \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && for program in /usr/bin/ssh /bin/sh; do \
      for f in "$program" $(ldd "$program" | grep -o '/[^ ]*'); do \
        mkdir -p "/ssh$(dirname "$f")" && cp -L "$f" "/ssh$f"; \
      done; \
    done

FROM scratch AS source-controller
COPY --from=base /rootfs/ /
COPY --from=base /ssh/ /
COPY --from=build /out/source-controller /usr/local/bin/source-controller
# VERSION is the workspace version (Cargo.toml; a test in xtask checks it).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.source=$SOURCE \
      org.opencontainers.image.revision=$REVISION \
      org.opencontainers.image.version=$VERSION
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/source-controller"]

FROM scratch AS kustomize-controller
COPY --from=base /rootfs/ /
COPY --from=build /out/kustomize-controller /usr/local/bin/kustomize-controller
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.source=$SOURCE \
      org.opencontainers.image.revision=$REVISION \
      org.opencontainers.image.version=$VERSION
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kustomize-controller"]
