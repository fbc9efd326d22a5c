#!/usr/bin/env bash
# CI for the container image (.ci/run calls it after `npm test`): makes the Debian base
# image if this machine has none, then runs the image test (test/image/), which builds
# the image from the Dockerfile, runs it three ways and removes all it made.
# Runs as root on a Debian machine; needs node_modules (`npm ci`) for the test's own
# PostgreSQL and S3 server.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in podman runc debootstrap curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -d node_modules ] || npm ci --no-audit --no-fund

# No container registry is reachable from CI, so the Dockerfile's FROM image is made
# here from Debian's own mirror and kept for later runs. It is a stand-in for Docker
# Hub's debian:trixie-slim: the same minimal package set, trimmed the same way
# (no documentation, manuals or translations; apt keeps no downloads or indexes).
BASE=docker.io/library/debian:trixie-slim
if ! podman image exists "$BASE"; then
  started=$SECONDS
  rootfs=$(mktemp -d /var/tmp/mediagate-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase trixie "$rootfs" http://deb.debian.org/debian
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian}/* "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/*
  find "$rootfs/usr/share/locale" -mindepth 1 -not -name locale.alias -delete
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE"
  rm -rf "$rootfs"
  trap - EXIT
  echo "base image $BASE made in $((SECONDS - started)) s"
fi

started=$SECONDS
npx vitest run --config vitest.image.config.ts
echo "image test passed in $((SECONDS - started)) s"
