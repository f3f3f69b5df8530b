# intentdns container image.
#
# No `# syntax=` line: it makes BuildKit fetch a frontend image first, which
# fails offline; the built-in Dockerfile frontend has all this file uses.
#
#   docker build -t intentdns .
#   docker run --rm -p 53:53/udp -p 53:53/tcp -p 127.0.0.1:9153:9153 \
#     -v "$PWD/site.yaml:/etc/intentdns/intentdns.yaml:ro" intentdns
#
# The image runs as an unprivileged user (uid 10001) and still binds port 53:
# see the `setcap` step below. Its default config, deploy/docker/intentdns.yaml,
# listens on 0.0.0.0:53 (DNS, UDP and TCP) and 0.0.0.0:9153 (HTTP); mount your
# own over /etc/intentdns/intentdns.yaml (or mount a directory on /etc/intentdns).
#
# Every COPY below names exactly what it needs, so node_modules/, dist/ or
# test/ of the build context never reach the image; .dockerignore also keeps
# the large ones (node_modules, dist, .git, bench/results, test/fixtures) out
# of the build context, so a working checkout uploads little.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# build: compile TypeScript with the dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts: `npm ci` would otherwise run our `prepare` script (tsc)
# before src/ is here. We run tsc ourselves below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------
# deps: production dependencies only, in a stage of their own so npm's cache
# stays out of the final image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/intentdns
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev --ignore-scripts \
 && npm cache clean --force

# ---------------------------------------------------------------------------
# runtime
FROM ${NODE_IMAGE} AS runtime

# Port 53 without root: a file capability on the node binary.
#
# Two ways exist: `setcap cap_net_bind_service=+ep` on the binary (here), or the
# per-network-namespace sysctl net.ipv4.ip_unprivileged_port_start=53 set by
# whoever runs the container. We use setcap because it is a property of the
# image: it works wherever the image runs, including with `--network host`
# (common for DNS, since it keeps the agents' real source addresses, and where
# the sysctl would have to be lowered for the whole host) and on runtimes that
# do not set the sysctl (containerd 1.x under Kubernetes, older Docker).
# Two things to know when hardening a deployment:
#   - keep NET_BIND_SERVICE in the bounding set: with `--cap-drop ALL` and no
#     `--cap-add NET_BIND_SERVICE` the kernel refuses to exec a binary whose
#     file capabilities it cannot grant ("operation not permitted");
#   - with no_new_privs (`--security-opt no-new-privileges`, Kubernetes'
#     `allowPrivilegeEscalation: false`) file capabilities are ignored; then the
#     sysctl is what lets the process bind 53. deploy/kubernetes/ sets both.
# A binary with file capabilities runs in secure-execution mode: Node then
# ignores NODE_OPTIONS and similar variables (pass flags on the command line).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/local/bin/node \
 && getcap /usr/local/bin/node | grep -q cap_net_bind_service \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 intentdns \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin intentdns

WORKDIR /opt/intentdns
ENV NODE_ENV=production \
    INTENTDNS_CONFIG=/etc/intentdns/intentdns.yaml

# What the program reads at run time, and nothing else: the compiled code,
# production node_modules, package.json (for --version and the build_info
# metric) and the built-in presets (config/presets/, found relative to dist/).
# The console's script and style sheet are in dist/ (npm run build copies them).
COPY --from=deps /opt/intentdns/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY config/presets ./config/presets
COPY deploy/docker/intentdns.yaml /etc/intentdns/intentdns.yaml

# Numeric, so Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 10001:10001

EXPOSE 53/udp 53/tcp 9153/tcp

# No curl in a slim image: Node's own fetch. /healthz is 200 while the process
# runs; listen.http must be on port 9153 and include 127.0.0.1 (0.0.0.0 does).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9153/healthz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Node is PID 1 and handles SIGTERM itself (in-flight queries get 5 s), and
# SIGHUP reloads the config: `docker kill -s HUP <container>`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/intentdns/dist/main.js"]
CMD ["serve", "--config", "/etc/intentdns/intentdns.yaml"]
