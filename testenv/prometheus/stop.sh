#!/usr/bin/env bash
# Stops what start.sh started in STATE_DIR, in start order reversed where it
# matters (the apiserver before etcd). Idempotent.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
stop_env "${1:?usage: stop.sh STATE_DIR}"
