#!/usr/bin/env bash
# ClickHouse server for the clickhouse sink tests. Idempotent: installs
# Debian's clickhouse-server (18.16, about 10 s) only when missing. The
# tests start their own server on 127.0.0.1 with free ports and a
# temporary data directory, so nothing is started here.
set -euo pipefail

if ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d on CI images refuses service starts: the package's own
  # service stays stopped, which is what we want.
  apt-get install -y -qq clickhouse-server >/dev/null
fi
command -v clickhouse-server >/dev/null 2>&1 || { echo "clickhouse-server is not on PATH" >&2; exit 1; }
echo "clickhouse-server installed: $(command -v clickhouse-server)"
