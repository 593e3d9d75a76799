#!/usr/bin/env bash
# The ONNX node tests for the claimed ops (`imagen engine conformance`), as a
# CTest: fails on any failing case and when fewer than --min-passed cases
# pass, so a run that skips everything (e.g. an empty or moved test-data
# folder, or a claim list that lost its ops) cannot pass.
#   conformance_test.sh IMAGEN NODE_DIR --min-passed N [conformance flags...]
# A missing NODE_DIR fails under CI=true and is skipped (exit 77) elsewhere.
set -u
IMAGEN=$1 NODE=$2
shift 2
if [ "${1:-}" != "--min-passed" ] || [ -z "${2:-}" ]; then
  echo "usage: conformance_test.sh IMAGEN NODE_DIR --min-passed N [flags]" >&2
  exit 2
fi
MIN=$2
shift 2
if [ ! -d "$NODE" ]; then
  echo "missing test data: the ONNX node tests at $NODE (Debian package libonnx-testdata, which ./run installs)"
  [ "${CI:-}" = "true" ] && exit 1
  exit 77
fi
out=$("$IMAGEN" engine conformance "$NODE" "$@" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^FAIL |passed, .* failed, .* skipped' || true
summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
if [ -z "$summary" ]; then
  printf '%s\n' "$out" | tail -n 20
  echo "FAILED: no 'N passed, N failed, N skipped' summary (exit $rc)"
  exit 1
fi
read -r passed _ failed _ skipped _ <<<"$summary"
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "FAILED: $failed cases failed (exit $rc)"
  exit 1
fi
if [ "$passed" -lt "$MIN" ]; then
  echo "FAILED: only $passed cases passed, expected at least $MIN ($skipped skipped)"
  exit 1
fi
echo "OK: $passed passed (at least $MIN), 0 failed, $skipped skipped"
