#!/usr/bin/env bash
# A redis-server for trying the fleet by hand (examples/fleet, hotmcp-fleet publish):
# bound to 127.0.0.1, on $REDIS_PORT (default 6379), data in its own temp folder,
# append-only file on so a restart keeps the stream. Installs Debian's redis-server
# first when it is missing (needs root or sudo). Ctrl-C stops it and removes the folder.
# The tests do not need it: they start a redis-server of their own on a free port.
set -euo pipefail
port="${REDIS_PORT:-6379}"
if ! command -v redis-server >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq redis-server >/dev/null
fi
dir="$(mktemp -d -t hotmcp-redis-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
echo "redis://127.0.0.1:$port (data in $dir); export HOTMCP_REDIS_URL=redis://127.0.0.1:$port" >&2
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --save ''
