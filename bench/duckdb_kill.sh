#!/usr/bin/env bash
# DuckDB's own storage under kill -9, without pgwarehouse: a writer that checkpoints at every
# commit is killed at a random point (50-300 ms after its start), then the file is opened; stops at
# the first file that does not open (DuckDB rewrites metadata blocks in place during a checkpoint,
# and a write cut by the kill fails its block checksum for ever after), or after BENCH_SECONDS
# (default 300). DUCKDB_LIB=DIR tries another libduckdb.so (e.g. a newer one from npm's
# @duckdb/node-bindings-linux-x64). BENCH_DIR sets where the file lives (default /tmp: a disk).
# PGW_UNDO=1: the writer keeps pgwarehouse's undo record of in-place writes
# (src/sink/duckdb/duckdb_undo.c) and puts a cut write back before it opens the file, as
# pgwarehouse does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${DUCKDB_LIB:-$root/deps/lib}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/pgw-duckkill.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O1 -o "$work/writer" "$root/bench/duckdb_kill.c" "$root/src/sink/duckdb/duckdb_undo.c" -I"$root/src" \
  -I"$root/deps/include" -L"$lib" -lduckdb -Wl,-rpath,"$lib" -Wl,--export-dynamic-symbol=pwrite -lz -ldl -pthread
db=$work/kill.db n=0 end=$((SECONDS + ${BENCH_SECONDS:-300}))
version=$("$work/writer" version)
[[ ${PGW_UNDO:-} == 1 ]] && with=", with pgwarehouse's undo record" || with=""
while (( SECONDS < end )); do
  n=$((n + 1))
  "$work/writer" "$db" & pid=$!
  sleep "0.$(printf '%03d' $((50 + RANDOM % 250)))"
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
  if ! out=$("$work/writer" "$db" check 2>&1); then
    echo "DuckDB $version ($lib)$with: the file no longer opens after kill $n: $out"
    exit 1
  fi
done
echo "DuckDB $version ($lib)$with: $n kills in ${BENCH_SECONDS:-300} s, the file opened after each"
