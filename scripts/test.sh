#!/bin/sh
# The whole test suite: system packages the tests need, then lint and types, then every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/ensure-test-deps.sh
npm run -s check
npx vitest run
