#!/usr/bin/env bash
# Start a throw-away redis-server for tests on 127.0.0.1:PORT with AOF persistence on, in its
# own directory — never the system service. Installs the Debian package redis-server when
# missing (package scripts are kept from starting the system daemon). Idempotent: a server
# already started by this script on PORT (pid file alive and answering PING) is reused.
#
# Usage:  start-redis.sh [PORT]      (default 6390; not 6379, to stay clear of a system Redis)
# Env:    REDIS_DIR       state dir (default /tmp/trainable-redis-$PORT); kept across restarts,
#                         so a restart reloads the AOF (jobs survive, as in production)
#         FRESH=1         wipe REDIS_DIR before starting
#         START_TIMEOUT   seconds to wait for PING (default 30)
# Stdout: REDIS_URL=redis://127.0.0.1:PORT/0, REDIS_PID=, REDIS_DIR= (eval-able); progress on
#         stderr. Stop with stop-redis.sh [PORT].
set -euo pipefail

PORT=${1:-${REDIS_PORT:-6390}}
DIR=${REDIS_DIR:-/tmp/trainable-redis-$PORT}
START_TIMEOUT=${START_TIMEOUT:-30}
T0=$(date +%s)
log() { echo "[start-redis +$(($(date +%s) - T0))s] $*" >&2; }
# The server's log first and the error last: callers show the tail of stderr.
die() { [ -f "$DIR/redis.log" ] && tail -n 20 "$DIR/redis.log" >&2; log "ERROR: $*"; exit 1; }
# shellcheck source=../lib/pid.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/pid.sh"
# ours PID: a redis-server serving this PORT (Redis sets its title to "redis-server HOST:PORT"),
# not a process that inherited the number of one that died.
ours() { pid_is "$1" redis-server ":$PORT "; }
print_env() { printf 'REDIS_URL=redis://127.0.0.1:%s/0\nREDIS_PID=%s\nREDIS_DIR=%s\n' "$PORT" "$1" "$DIR"; }
ping() { redis-cli -h 127.0.0.1 -p "$PORT" --no-auth-warning ping 2>/dev/null | grep -q PONG; }

[[ "$PORT" =~ ^[0-9]{2,5}$ ]] || die "bad port \"$PORT\""

# ---- 1. install (idempotent) -------------------------------------------------------
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  log "installing redis-server (apt)"
  export DEBIAN_FRONTEND=noninteractive
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep package scripts from starting the system daemon
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  if ! apt-get install "${apt_opts[@]}" redis-server >&2; then
    apt-get update -q -o DPkg::Lock::Timeout=600 >&2
    apt-get install "${apt_opts[@]}" redis-server >&2
  fi
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  log "install done"
fi

# ---- 2. already running? ------------------------------------------------------------
if [ -f "$DIR/redis.pid" ] && ours "$(cat "$DIR/redis.pid")"; then
  PID=$(cat "$DIR/redis.pid")
  for _ in $(seq 20); do
    if ping; then log "already running (pid $PID) in $DIR"; print_env "$PID"; exit 0; fi
    sleep 0.25
  done
  die "pid $PID is alive but does not answer PING on port $PORT"
fi
if ping; then die "something else already answers on 127.0.0.1:$PORT (not started by this script)"; fi

# ---- 3. start -------------------------------------------------------------------------
if [ "${FRESH:-0}" = 1 ]; then rm -rf "$DIR"; fi
mkdir -p "$DIR"
# --daemonize no + setsid/nohup: the pid we record is redis-server itself, and it outlives
# this script (and the test run that started it) until stop-redis.sh.
setsid nohup redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" \
  --appendonly yes --appendfsync everysec --save '' --daemonize no \
  --logfile "$DIR/redis.log" --maxmemory-policy noeviction \
  >/dev/null 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$DIR/redis.pid"
for _ in $(seq $((START_TIMEOUT * 10))); do
  if ping; then log "started (pid $PID) on 127.0.0.1:$PORT, AOF in $DIR"; print_env "$PID"; exit 0; fi
  pid_is "$PID" redis-server || die "redis-server exited during start"   # title not set yet
  sleep 0.1
done
die "redis-server did not answer PING within ${START_TIMEOUT}s"
