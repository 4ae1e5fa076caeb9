#!/usr/bin/env bash
# The whole check, as the README's test command and CI run it:
# lint (Biome, sherif, knip, the structure rules, jscpd), the reliability and benchmark report checks, typecheck, build, every test suite (against a real S3 server on 127.0.0.1),
# the packaging checks (publint, attw) of every package and the pack-and-install smoke test.
#
# S3: when TRAINABLE_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY, _REGION) is set, that server
# is used (MinIO, AWS...). Otherwise a throw-away Ceph radosgw is installed (apt, Debian) when
# missing and started on 127.0.0.1:${TRAINABLE_TEST_S3_PORT:-7480}, and stopped at the end if
# this script started it.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v pnpm >/dev/null 2>&1; then PNPM=(pnpm); else PNPM=(npx -y pnpm@10.34.9); fi

if [ -z "${TRAINABLE_TEST_S3_ENDPOINT:-}" ]; then
  port="${TRAINABLE_TEST_S3_PORT:-7480}"
  was_up=0
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then was_up=1; fi
  s3_env="$(bash scripts/s3/start-radosgw.sh "$port")"
  eval "$s3_env"
  export TRAINABLE_TEST_S3_ENDPOINT="$S3_ENDPOINT" TRAINABLE_TEST_S3_ACCESS_KEY="$S3_ACCESS_KEY" \
    TRAINABLE_TEST_S3_SECRET_KEY="$S3_SECRET_KEY" TRAINABLE_TEST_S3_REGION="$S3_REGION"
  if [ "$was_up" = 0 ] && [ "${TRAINABLE_KEEP_S3:-0}" != 1 ]; then
    trap 'bash scripts/s3/stop-radosgw.sh "'"$port"'" || true' EXIT
  fi
fi

# The CLI's Steamship tests compare zips with Python's own zipfile and shutil: python3 is on
# the machine image; installed with apt (as radosgw is) only where it is missing.
if ! command -v python3 >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q -o DPkg::Lock::Timeout=600 >&2
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 python3 >&2
fi

# The dashboard's end-to-end test drives Debian's headless Chromium (playwright-core with its
# executablePath; no browser download): installed with apt, with a font, only where missing.
if [ ! -x /usr/lib/chromium/chromium ] || [ ! -d /usr/share/fonts/truetype/dejavu ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q -o DPkg::Lock::Timeout=600 >&2
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 chromium fonts-dejavu-core >&2
fi

rm -rf .vitest-results
"${PNPM[@]}" run lint
# Monorepo hygiene: sherif + knip (unused files, exports, dependencies), then the structure
# rules (file and function sizes, test placement) and jscpd (no repeated blocks).
"${PNPM[@]}" run lint:deps
"${PNPM[@]}" run lint:structure
# The committed reports must be the ones their runs produce (no build needed).
"${PNPM[@]}" run reliability:check
"${PNPM[@]}" run bench:check
"${PNPM[@]}" exec turbo run build typecheck --concurrency=2
"${PNPM[@]}" exec turbo run test --concurrency=1
"${PNPM[@]}" exec turbo run test:build --concurrency=2
"${PNPM[@]}" run test:smoke
node scripts/test-summary.mjs
