#!/usr/bin/env bash
# Stream fan-out benchmark (#14): N WebSocket watchers of one SKU against the packaged server jar
# in its own JVM (-Xmx1g), the watchers in this script's JVM, changes at a steady rate. Prints per
# run: server CPU per delivered message (the headline: it does not depend on where the watchers
# run), latency per delivery and to the last watcher, heap per connection. A benchmark, not a test.
#
#   loadtest/fanout.sh [--no-build] [-Dwatchers=1000,10000] [-Dchanges=100] [-Drate=10] [-Dhisto=true]
#
# Every watcher is a socket in both processes: the run needs as many file descriptors as the
# largest N, plus a few hundred. This script raises the soft limit to the hard one and refuses a
# size that cannot fit (raising the hard limit needs root or the container's settings: ulimit -Hn,
# LimitNOFILE=, docker --ulimit nofile=). One connection also needs a local port: past ~28,000
# watchers from one address the benchmark spreads them over 127.0.0.x.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
limit=$(ulimit -n)
largest=$(printf '%s\n' "${args[@]:-}" | sed -n 's/^-Dwatchers=//p' | tr ',' '\n' | sort -n | tail -1)
largest=${largest:-10000}
if [ "$limit" != unlimited ] && [ "$((largest + 500))" -gt "$limit" ]; then
  echo "fanout.sh: $largest watchers need more than the $limit file descriptors this shell may open" \
       "(ulimit -Hn); raise the hard limit or run fewer watchers" >&2
  exit 2
fi
echo "file descriptors per process: $limit"
if [ "$build" = 1 ]; then
  mvn -q -B -pl server -am package -DskipTests
fi
exec mvn -q -B -f server/pom.xml exec:java -Dexec.classpathScope=test \
  -Dexec.mainClass=dev.allot.bench.FanoutBenchmark -Dwatchers=1000,10000 "${args[@]}"
