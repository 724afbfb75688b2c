#!/usr/bin/env bash
# The container's main process (see docs/docker.md): starts `orchestration up --foreground`,
# waits until `orchestration status` succeeds (at most DAEMON_START_TIMEOUT seconds, default
# 60), then runs `orchestration serve "$@"`.
#
# SIGTERM or SIGINT stops the server, then the daemon, which stops every agent gracefully; the
# script then exits with the daemon's exit code. When either process ends by itself, the other
# is stopped the same way and the script exits with the code of the one that ended, so that a
# restart policy can start both again.
set -uo pipefail

start_timeout="${DAEMON_START_TIMEOUT:-60}"
stopping=""
daemon=""
server=""

log() {
  echo "entrypoint: $*" >&2
}

# Wait until process $1 has exited, also when a signal interrupts the wait; return its code.
reap() {
  local pid=$1 code
  while true; do
    wait "$pid"
    code=$?
    if ! kill -0 "$pid" 2>/dev/null; then
      return "$code"
    fi
  done
}

# Stop the server (if started and still running), then the daemon; return the daemon's code.
stop_both() {
  if [[ -n $server ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null
    reap "$server"
  fi
  if kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon" 2>/dev/null
  fi
  reap "$daemon"
}

trap 'stopping=1' TERM INT

orchestration up --foreground &
daemon=$!

deadline=$((SECONDS + start_timeout))
until orchestration status >/dev/null 2>&1; do
  if [[ -n $stopping ]]; then
    stop_both
    exit $?
  fi
  if ! kill -0 "$daemon" 2>/dev/null; then
    reap "$daemon"
    code=$?
    log "the daemon exited with code $code before it answered"
    exit $((code == 0 ? 1 : code))
  fi
  if ((SECONDS >= deadline)); then
    log "the daemon did not answer within ${start_timeout} s; stopping it"
    stop_both
    exit 1
  fi
  sleep 0.5
done

orchestration serve "$@" &
server=$!

ended=""
while [[ -z $stopping && -z ${ended:-} ]]; do
  wait -n -p ended "$daemon" "$server"
  code=$?
done

if [[ -z ${ended:-} ]]; then
  log "stopping: the server, then the daemon"
  stop_both
  exit $?
fi

if [[ $ended == "$daemon" ]]; then
  log "the daemon exited with code $code; stopping the server"
  kill -TERM "$server" 2>/dev/null
  reap "$server"
else
  log "the server exited with code $code; stopping the daemon"
  kill -TERM "$daemon" 2>/dev/null
  reap "$daemon"
fi
exit "$code"
