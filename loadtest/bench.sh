#!/usr/bin/env bash
# One command that benchmarks Allot on this machine: builds the server, starts a Redis and the
# server on loopback, runs a Gatling simulation (default: the flash sale, with enough units that
# it never sells out, so every buyer is a reservation), and prints one summary: reservations/s
# accepted, p50/p95/p99 of reserve and commit, oversells (must be 0), and the ceiling measured in
# the same run: redis-benchmark running Allot's own reserve_line script by EVALSHA against one
# hot key with as many connections as the server's Redis pool, printed as the ratio Allot/ceiling.
#
#   loadtest/bench.sh [--no-build] [-Dname=value ...]    e.g. -DpeakRate=1500 -DholdSeconds=30
#   CLUSTER=1 loadtest/bench.sh ...                      a local 3-master Redis Cluster, two server instances
#   REDIS_ARGS="--appendonly yes --appendfsync always" loadtest/bench.sh ...   persistence on
#   REPLICA=1 ALLOT_REDIS_WAIT_REPLICAS=1 loadtest/bench.sh ...   a replica, every change WAITs for it
#   (standalone; any ALLOT_* variable in the environment reaches the server)
#
# Needs a JDK 17+, Maven, and a redis-server (on PATH, else the one shipped in the embedded-redis
# Maven dependency is used). redis-benchmark (Debian: redis-tools) is optional: without it the
# ceiling is skipped with a note. The Gatling HTML report stays under loadtest/target/gatling/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

BUILD=1
if [ "${1:-}" = "--no-build" ]; then BUILD=0; shift; fi
EXTRA=("$@")
SIMULATION=${SIMULATION:-dev.allot.loadtest.FlashSaleSimulation}
REDIS_PORT=${REDIS_PORT:-16379}
HTTP_PORT=${HTTP_PORT:-18080}
POOL=${ALLOT_REDIS_POOL_SIZE:-16}
WORK=$(mktemp -d /tmp/allot-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$REDIS_PORT" || { echo "bench: port $REDIS_PORT is taken (set REDIS_PORT)"; exit 1; }
port_free "$HTTP_PORT" || { echo "bench: port $HTTP_PORT is taken (set HTTP_PORT)"; exit 1; }

if [ "$BUILD" = 1 ]; then
  echo "bench: building (mvn install -DskipTests, so the loadtest module finds the server's test support)"
  mvn -q -B install -DskipTests
fi

REDIS_SERVER=$(command -v redis-server || true)
if [ -z "$REDIS_SERVER" ]; then
  JAR=$(find "$HOME/.m2/repository/com/github/codemonstur/embedded-redis" -name 'embedded-redis-*.jar' | sort | tail -n 1)
  [ -n "$JAR" ] || { echo "bench: no redis-server on PATH and no embedded-redis jar in ~/.m2 (run the build first)"; exit 1; }
  (cd "$WORK" && unzip -q -o "$JAR" 'redis-server-*-linux-amd64')
  REDIS_SERVER=$(ls "$WORK"/redis-server-*-linux-amd64 | head -n 1)
  chmod +x "$REDIS_SERVER"
fi
CLUSTER=${CLUSTER:-0}
KEYS="bench-admin=admin,bench-web=channel:web,bench-reader=reader"
start_server() { # $1 = HTTP port, then env assignments for the Redis
  local port=$1; shift
  env "$@" ALLOT_HTTP_PORT="$port" ALLOT_API_KEYS="$KEYS" ALLOT_REDIS_POOL_SIZE="$POOL" \
    java ${ALLOT_JAVA_OPTS:-} -jar server/target/allot-server.jar > "$WORK/server-$port.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do grep -q "Allot ready" "$WORK/server-$port.log" && break; sleep 0.1; done
  grep -q "Allot ready" "$WORK/server-$port.log" || { cat "$WORK/server-$port.log"; echo "bench: the server did not start"; exit 1; }
  grep "Allot ready" "$WORK/server-$port.log" | sed 's/^/bench: /'
}
echo "bench: redis-server $("$REDIS_SERVER" --version | sed 's/.*v=\([^ ]*\).*/\1/')"
# REDIS_ARGS adds redis-server options, e.g. REDIS_ARGS="--appendonly yes --appendfsync always" to measure
# what persistence costs (the default runs without any, like the ceiling it is compared with). Redis
# runs with the hash-max-listpack-value deploy/ recommends (a reservation record one listpack).
REDIS_ARGS="--hash-max-ziplist-value 512 ${REDIS_ARGS:-}"
if [ "$CLUSTER" = 1 ]; then
  # CLUSTER=1: three masters on REDIS_PORT..+2 and two server instances on HTTP_PORT and +1;
  # Gatling spreads its users over both. Needs redis-cli (Debian: redis-tools) to form the cluster.
  command -v redis-cli > /dev/null || { echo "bench: CLUSTER=1 needs redis-cli (Debian: redis-tools)"; exit 1; }
  NODES=()
  for i in 0 1 2; do
    P=$((REDIS_PORT + i))
    port_free "$P" && port_free $((P + 10000)) || { echo "bench: port $P or $((P + 10000)) is taken"; exit 1; }
    # shellcheck disable=SC2086
    "$REDIS_SERVER" --port "$P" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" --cluster-enabled yes \
      --cluster-config-file "$WORK/nodes-$P.conf" --cluster-node-timeout 5000 --loglevel warning ${REDIS_ARGS:-} \
      > "$WORK/redis-$P.log" 2>&1 &
    PIDS+=($!)
    NODES+=("127.0.0.1:$P")
  done
  for P in $REDIS_PORT $((REDIS_PORT + 1)) $((REDIS_PORT + 2)); do
    for _ in $(seq 1 100); do redis-cli -p "$P" ping > /dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create "${NODES[@]}" --cluster-yes > "$WORK/cluster-create.log" 2>&1
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
  URLS="redis://${NODES[0]},redis://${NODES[1]},redis://${NODES[2]}"
  echo "bench: Redis Cluster of 3 masters on ports $REDIS_PORT-$((REDIS_PORT + 2))"
  start_server "$HTTP_PORT" ALLOT_REDIS_CLUSTER="$URLS"
  start_server $((HTTP_PORT + 1)) ALLOT_REDIS_CLUSTER="$URLS"
  BASE="http://127.0.0.1:$HTTP_PORT,http://127.0.0.1:$((HTTP_PORT + 1))"
else
  # shellcheck disable=SC2086
  "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --loglevel warning ${REDIS_ARGS:-} > "$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  if [ "${REPLICA:-0}" = 1 ]; then
    RP=$((REDIS_PORT + 1))
    port_free "$RP" || { echo "bench: port $RP is taken"; exit 1; }
    mkdir -p "$WORK/replica"
    # shellcheck disable=SC2086
    "$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/replica" \
      --replicaof 127.0.0.1 "$REDIS_PORT" --loglevel warning ${REDIS_ARGS:-} > "$WORK/replica.log" 2>&1 &
    PIDS+=($!)
    command -v redis-cli > /dev/null || { echo "bench: REPLICA=1 needs redis-cli (Debian: redis-tools)"; exit 1; }
    for _ in $(seq 1 100); do
      redis-cli -p "$RP" info replication 2>/dev/null | grep -q master_link_status:up && break
      sleep 0.1
    done
    echo "bench: a replica on port $RP follows the master (ALLOT_REDIS_WAIT_REPLICAS=${ALLOT_REDIS_WAIT_REPLICAS:-0})"
  fi
  start_server "$HTTP_PORT" ALLOT_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  BASE="http://127.0.0.1:$HTTP_PORT"
fi

SUMMARY="$ROOT/loadtest/target/flash-sale-summary.json"
rm -f "$SUMMARY"
echo "bench: running $SIMULATION"
mvn -q -B -pl loadtest gatling:test -Dsimulation="$SIMULATION" -Dbase="$BASE" \
  -DadminKey=bench-admin -DchannelKey=bench-web -DreaderKey=bench-reader -Dunits=100000000 \
  -DsummaryFile="$SUMMARY" "${EXTRA[@]}" | grep -E "^(flash sale|> (reserve|commit|release|Global)|.*: (true|false) )" || true

CEILING="-"
if command -v redis-benchmark > /dev/null 2>&1; then
  HOT="CEILING-HOT"
  # The hot key's own node (in a cluster, the master owning its slot): one hot key is one Redis core.
  CPORT=$REDIS_PORT
  if [ "$CLUSTER" = 1 ]; then
    redis-cli -c -p "$REDIS_PORT" HSET "allot:{$HOT}:stock" "main|on" 1000000000 ver 1 > /dev/null
    for P in $REDIS_PORT $((REDIS_PORT + 1)) $((REDIS_PORT + 2)); do
      [ "$(redis-cli -p "$P" exists "allot:{$HOT}:stock" 2>/dev/null)" = "1" ] && CPORT=$P
    done
  fi
  # The script as the server loads it (its includes spliced in), printed by the built jar.
  SRC=$(java -cp server/target/allot-server.jar dev.allot.store.ScriptSource reserve_line)
  SHA=$(redis-cli -p "$CPORT" SCRIPT LOAD "$SRC")
  redis-cli -p "$CPORT" HSET "allot:{$HOT}:stock" "main|on" 1000000000 ver 1 > /dev/null
  NOW=$(($(date +%s) * 1000)); DEADLINE=$((NOW + 3600000))
  N=${CEILING_REQUESTS:-200000}
  OUT=$(redis-benchmark -p "$CPORT" -c "$POOL" -n "$N" -r 1000000000 -q \
    EVALSHA "$SHA" 6 "allot:{$HOT}:stock" "allot:{$HOT}:holds" "allot:{$HOT}:expiry" "allot:{$HOT}:ledger" \
    "allot:{$HOT}:customers" "allot:{$HOT}:out" "$NOW" 1000 "allot:{$HOT}:ev" "r-__rand_int__" 1 "$DEADLINE" 0 web "" 0 main)
  CEILING=$(echo "$OUT" | tr '\r' '\n' | grep -oE '[0-9.]+ requests per second' | tail -n 1 | awk '{print $1}')
  echo "bench: redis-benchmark -c $POOL -n $N EVALSHA reserve_line: $CEILING ops/s"
fi

MACHINE="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), $(java -version 2>&1 | head -n 1 | tr -d '"')"
mvn -q -B -pl loadtest exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.allot.loadtest.BenchSummary \
  -Dexec.args="$ROOT/loadtest/target/gatling $SUMMARY $CEILING '$MACHINE'"
