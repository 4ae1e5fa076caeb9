#!/usr/bin/env bash
# Stop the redis-server started by start-redis.sh [PORT]. Only the pid recorded in
# $REDIS_DIR/redis.pid is signalled, and only while it is still that redis-server (a pid file
# can outlive its process): SIGTERM (Redis fsyncs the AOF and exits), SIGKILL after 10 s.
# Usage: stop-redis.sh [PORT]   Env: REDIS_DIR (default /tmp/trainable-redis-$PORT),
#        WIPE=1 also deletes the state dir (the AOF); by default it is kept.
set -uo pipefail
PORT=${1:-${REDIS_PORT:-6390}}
DIR=${REDIS_DIR:-/tmp/trainable-redis-$PORT}
# shellcheck source=../lib/pid.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/pid.sh"
# ours PID: still the redis-server of this PORT, not a process that inherited a dead one's number.
running() { pid_is "$1" redis-server ":$PORT "; }
if [ -f "$DIR/redis.pid" ]; then
  PID=$(cat "$DIR/redis.pid")
  if running "$PID"; then
    kill -TERM "$PID" 2>/dev/null
    for _ in $(seq 100); do running "$PID" || break; sleep 0.1; done
    if running "$PID"; then echo "[stop-redis] pid $PID did not stop, SIGKILL" >&2; kill -KILL "$PID" 2>/dev/null; fi
  fi
  rm -f "$DIR/redis.pid"
  echo "[stop-redis] stopped (port $PORT)" >&2
else
  echo "[stop-redis] nothing to stop in $DIR" >&2
fi
[ "${WIPE:-0}" = 1 ] && rm -rf "$DIR"
exit 0
