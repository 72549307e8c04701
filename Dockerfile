# syntax=docker/dockerfile:1
# The dsguard image: `docker build -t dsguard:$(cat VERSION) .`
# Stage 1 builds with the project's Makefile on Debian bookworm; stage 2 is
# bookworm-slim with only the shared libraries the binary links against,
# running as an unprivileged user (uid/gid 65532).

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make pkg-config \
      libcjson-dev libyaml-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev libgnutls28-dev \
      libcmocka-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean && make -j"$(nproc)" && ./dsguard version

FROM debian:bookworm-slim
# Runtime libraries only, one per library the Makefile links (pkg-config name
# in brackets): libcjson1 [libcjson], libyaml-0-2 [yaml-0.1],
# libmicrohttpd12 [libmicrohttpd], libssl3 [openssl], libcurl4 [libcurl],
# libgnutls30 [gnutls].
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcjson1 libyaml-0-2 libmicrohttpd12 libssl3 libcurl4 libgnutls30 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*
COPY --from=build /src/dsguard /usr/local/bin/dsguard
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/dsguard"]
CMD ["serve", "--help"]
