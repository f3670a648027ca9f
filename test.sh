#!/usr/bin/env bash
# Runs every test of the solution in Release: ./test.sh [more `dotnet test` arguments, e.g. --filter Name~Udp]
# The integration tests need root and /dev/net/tun (without them they are skipped, saying why) and socat, ping,
# ss and sysctl on PATH; .ci/run installs those. Results: the console, plus TRX files in $VS_TEST_RESULTS
# (default artifacts/test-results, or $ArtifactsPath/test-results when ArtifactsPath is set).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
results="${VS_TEST_RESULTS:-${ArtifactsPath:-artifacts}/test-results}"
rm -rf "$results"
mkdir -p "$results"
# -m:1: one test project at a time. In parallel, the integration tests (real traffic through vs run) share the
# two cores with the DCCP interop and unit tests, and timing-sensitive exchanges lost datagrams to scheduling.
exec dotnet test VirtualStack.sln -c Release -m:1 --results-directory "$results" --logger trx --logger "console;verbosity=minimal" "$@"
