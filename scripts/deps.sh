#!/usr/bin/env bash
# Installs everything pgwarehouse needs to build and test, idempotently:
# Debian packages (compiler, libpq, libyaml, zlib, PostgreSQL server) and the
# pinned npm packages that carry duckdb.h and libduckdb.so (Debian has no DuckDB).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
deps="${PGW_DEPS_DIR:-$here/deps}"
DUCKDB_VERSION=1.4.4
DUCKDB_BINDINGS=1.4.4-r.4
CHDB_PACKAGE=@chdb/lib-linux-x64-gnu@26.7.3-stable.1   # embedded ClickHouse; only with --test
NODE_API_PACKAGE=@duckdb/node-api@1.4.4-r.4              # the Snowflake test double's SQL engine
SF_DRIVER_PACKAGE=snowflake-sdk@3.3.0                    # Snowflake's Node.js driver: the double's conformance test
want_test=0
[[ "${1:-}" == --test ]] && want_test=1

apt_pkgs=(build-essential pkg-config libpq-dev libyaml-dev zlib1g-dev libcmocka-dev libcurl4-openssl-dev libssl-dev libjansson-dev clickhouse-server curl openssl
          postgresql postgresql-contrib pgbouncer nodejs npm ca-certificates time python3)

missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's npm pulls many packages; if node and npm already work, do not ask for them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

hdr="$deps/node_modules/duckdb/src/duckdb/src/include/duckdb.h"
lib="$deps/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"
stamp="$deps/.duckdb-$DUCKDB_VERSION-$DUCKDB_BINDINGS"
if [[ ! -f "$stamp" || ! -f "$hdr" || ! -f "$lib" ]]; then
  echo "deps: installing DuckDB $DUCKDB_VERSION from npm into $deps" >&2
  mkdir -p "$deps"
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$deps" \
    "duckdb@$DUCKDB_VERSION" "@duckdb/node-bindings-linux-x64@$DUCKDB_BINDINGS" >&2
  [[ -f "$hdr" && -f "$lib" ]] || { echo "deps: duckdb.h or libduckdb.so missing after npm install" >&2; exit 1; }
  mkdir -p "$deps/include" "$deps/lib"
  cp "$hdr" "$deps/include/duckdb.h"
  touch "$stamp"
fi
mkdir -p "$deps/include" "$deps/lib"
[[ -f "$deps/include/duckdb.h" ]] || cp "$hdr" "$deps/include/duckdb.h"
ln -sf "$lib" "$deps/lib/libduckdb.so"

# chDB (566 MB) is only needed for the embedded-ClickHouse tests and users who choose it; the
# Snowflake double (tests/snowflake) runs on Node.js with DuckDB's node bindings.
if [[ $want_test == 1 ]]; then
  if [[ ! -f "$deps/.sfdouble-1.4.4-r.4" ]]; then
    echo "deps: installing $NODE_API_PACKAGE from npm into $deps/sfdouble" >&2
    mkdir -p "$deps/sfdouble"
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$deps/sfdouble" "$NODE_API_PACKAGE" >&2
    touch "$deps/.sfdouble-1.4.4-r.4"
  fi
  # Snowflake's official driver checks the double from the outside (tests/integration/t_sfdriver.sh)
  if [[ ! -f "$deps/.sfdriver-3.3.0" || ! -d "$deps/sfdriver/node_modules/snowflake-sdk" ]]; then
    echo "deps: installing $SF_DRIVER_PACKAGE from npm into $deps/sfdriver" >&2
    mkdir -p "$deps/sfdriver"
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$deps/sfdriver" "$SF_DRIVER_PACKAGE" >&2
    touch "$deps/.sfdriver-3.3.0"
  fi
  chdb_lib="$deps/chdb/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so"
  if [[ ! -f "$deps/.chdb-26.7.3" || ! -f "$chdb_lib" ]]; then
    echo "deps: installing chDB ($CHDB_PACKAGE) from npm into $deps/chdb" >&2
    mkdir -p "$deps/chdb"
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$deps/chdb" "$CHDB_PACKAGE" >&2
    [[ -f "$chdb_lib" ]] || { echo "deps: libchdb.so missing after npm install" >&2; exit 1; }
    touch "$deps/.chdb-26.7.3"
  fi
  ln -sf "$chdb_lib" "$deps/lib/libchdb.so"
fi
