# smtp-bridge container image: a Debian 12 builder compiles the one binary (Release, no tests); the
# runtime image holds only that binary, the shared libraries it links, CA certificates and a default
# configuration. Runs as the non-root user 10001 and writes nothing outside the volume
# /var/lib/smtp-bridge (store and temporary files), so a read-only root filesystem works.

FROM debian:bookworm AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      cmake ninja-build g++ pkg-config libcpp-httplib-dev libasio-dev libssl-dev \
      nlohmann-json3-dev rapidjson-dev libsqlite3-dev libyaml-cpp-dev libpq-dev \
      libopendkim-dev libunbound-dev libopendmarc-dev libspf2-dev libxml2-dev libuchardet-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src/ src/
# Release at -O2 (the optimisation the tests run at): g++ 12 at -O3 reports false -Wrestrict
# warnings in std::string code (GCC bug 105329), which -Werror turns into errors.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
      -DSMTP_BRIDGE_TESTS=OFF \
 && cmake --build build --target smtp-bridge -j "$(nproc)" \
 && install -D -s -m 0755 build/src/smtp-bridge /out/usr/local/bin/smtp-bridge
# The image's default configuration: every listener on all interfaces, the store on the volume.
# Replace it by mounting a file (a ConfigMap) over /etc/smtp-bridge/config.yaml.
RUN mkdir -p /out/etc/smtp-bridge && printf '%s\n' \
      '# smtp-bridge in a container: listeners on all interfaces, the store on the volume.' \
      '# Reference: README.md "Configuration reference". Ports: SMTP 2525, REST 8080, admin 8081;' \
      '# SMTPS 4650 needs smtp.tls (cert_file, key_file) and smtp.tls_listen: ["0.0.0.0:4650"].' \
      'smtp:' \
      '  listen: ["0.0.0.0:2525"]' \
      'store:' \
      '  path: /var/lib/smtp-bridge/smtp-bridge.db' \
      'api:' \
      '  listen: "0.0.0.0:8080"' \
      'admin:' \
      '  listen: "0.0.0.0:8081"' \
      'log:' \
      '  level: info' \
      > /out/etc/smtp-bridge/config.yaml \
 && /out/usr/local/bin/smtp-bridge --check-config --config /out/etc/smtp-bridge/config.yaml

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="smtp-bridge" \
      org.opencontainers.image.description="SMTP in -> signed JSON webhooks; REST -> SMTP out" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
# The libraries `ldd smtp-bridge` lists (libstdc++6, libgcc-s1, libc6 are in the base already),
# and publicsuffix: the public suffix list of DMARC (src/mailauth/dmarc).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libssl3 libsqlite3-0 libpq5 libyaml-cpp0.7 libcpp-httplib0.11 libopendkim11 libunbound8 libopendmarc2 \
      libspf2-2 libxml2 libuchardet0 ca-certificates publicsuffix \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 smtp-bridge \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/smtp-bridge --no-create-home \
      --shell /usr/sbin/nologin smtp-bridge \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/smtp-bridge
COPY --from=builder /out/ /
# Fail the build, not the first start, when a library is missing.
RUN ! ldd /usr/local/bin/smtp-bridge | grep 'not found' && /usr/local/bin/smtp-bridge --version

USER 10001:10001
WORKDIR /var/lib/smtp-bridge
# SQLite's temporary files go to the volume too (the root filesystem may be read-only).
ENV TMPDIR=/var/lib/smtp-bridge
VOLUME ["/var/lib/smtp-bridge"]
# SMTP, SMTPS (with smtp.tls), REST API, admin (/metrics, /healthz, /readyz).
EXPOSE 2525 4650 8080 8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/smtp-bridge"]
CMD ["--config", "/etc/smtp-bridge/config.yaml"]
