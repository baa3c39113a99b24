#!/usr/bin/env bash
# tools/helm-render's own tests (go test), gofmt and go vet, built offline
# from Debian's Go sources the way tools/helm-render/render builds it.
set -euo pipefail
src=tools/helm-render
command -v go >/dev/null || { echo "go not found: run tools/setup (golang-go)" >&2; exit 1; }
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOCACHE="${TEST_TMPDIR:?}/gocache"

unformatted=$(cd "$src" && gofmt -l -- *.go)
if [[ -n $unformatted ]]; then
  echo "not gofmt-formatted: $unformatted" >&2
  exit 1
fi
(cd "$src" && go vet . && go test -count=1 -v . 2>&1) | tee "$TEST_TMPDIR/go-test.log"
status=${PIPESTATUS[0]}
passed=$(grep -c '^--- PASS' "$TEST_TMPDIR/go-test.log" || true)
failed=$(grep -c '^--- FAIL' "$TEST_TMPDIR/go-test.log" || true)
echo "$passed passed, $failed failed"
exit "$status"
