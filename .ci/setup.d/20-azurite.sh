#!/usr/bin/env bash
# Azurite (Azure Blob emulator) for the Event Hub checkpoint-store tests.
# Idempotent: installs from npm only when missing, starts it on
# 127.0.0.1:10000 only when nothing answers there, waits until it answers.
set -euo pipefail

if ! command -v azurite-blob >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  npm install -g --no-audit --no-fund azurite >/dev/null
fi

# A TCP connect is enough to know it listens (no curl needed).
answers() { (exec 3<>/dev/tcp/127.0.0.1/10000) 2>/dev/null; }

if ! answers; then
  dir=$(mktemp -d /tmp/azurite-ci.XXXXXX)
  nohup azurite-blob --blobHost 127.0.0.1 --blobPort 10000 --location "$dir" \
    --silent --skipApiVersionCheck --loose --disableTelemetry >"$dir/azurite.log" 2>&1 &
  for _ in $(seq 1 60); do
    answers && break
    sleep 0.5
  done
fi
answers || { echo "azurite did not start on 127.0.0.1:10000" >&2; exit 1; }
echo "azurite answers on 127.0.0.1:10000"
