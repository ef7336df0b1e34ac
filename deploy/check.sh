#!/usr/bin/env bash
# Static checks of deploy/ that need no Docker engine and no Kubernetes cluster:
#
#   bash deploy/check.sh
#
# Each check runs when its tool is on PATH and is reported SKIPPED otherwise. On Debian the tools
# come from: python3-yaml, kubectl (any recent client: it embeds kustomize), prometheus (promtool),
# haproxy, redis-tools (its redis-check-rdb is the server binary: pass it as REDIS_SERVER through a
# symlink named redis-server, rather than putting a redis-server on PATH, which loadtest/bench.sh
# and the test suite would then use instead of their embedded one), and the docker compose plugin.
# It builds nothing and applies nothing; deploy/README.md says what it does not prove.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check() { # check NAME COMMAND... : runs COMMAND, prints its output only on failure
  local name=$1; shift
  if "$@" >"$work/out" 2>&1; then
    echo "PASS    $name"; passed=$((passed + 1))
  else
    echo "FAIL    $name"; sed 's/^/        /' "$work/out"; failed=$((failed + 1))
  fi
}
skip() { echo "SKIPPED $1 ($2)"; skipped=$((skipped + 1)); }
have() { command -v "$1" >/dev/null 2>&1; }

# 1. Every YAML file parses.
if have python3 && python3 -c 'import yaml' 2>/dev/null; then
  check "yaml: every deploy/**/*.yaml parses" python3 -c '
import glob, sys, yaml
for f in sorted(glob.glob("deploy/**/*.yaml", recursive=True)):
    list(yaml.safe_load_all(open(f)))
'
else
  skip "yaml parse" "python3 with PyYAML not found"
fi

# 2. The kustomizations render.
if have kubectl; then
  check "kustomize: deploy/k8s renders" kubectl kustomize deploy/k8s
  check "kustomize: deploy/k8s/monitoring renders" kubectl kustomize deploy/k8s/monitoring
else
  skip "kustomize" "kubectl not found"
fi

# 3. Alert rules: syntax, then unit tests (promtool cannot read the PrometheusRule wrapper).
if have promtool && have python3; then
  python3 -c '
import sys, yaml
d = yaml.safe_load(open("deploy/k8s/monitoring/prometheusrule.yaml"))
yaml.safe_dump({"groups": d["spec"]["groups"]}, open(sys.argv[1], "w"), sort_keys=False)
' "$work/rules.yaml"
  cp deploy/k8s/monitoring/tests/alerts.test.yaml "$work/alerts.test.yaml"
  check "promtool: alert rules are valid" promtool check rules "$work/rules.yaml"
  check "promtool: alert unit tests pass" promtool test rules "$work/alerts.test.yaml"
else
  skip "promtool" "promtool not found"
fi

# 4. HAProxy configuration.
if have haproxy; then
  check "haproxy: deploy/compose/haproxy.cfg is valid" haproxy -c -f deploy/compose/haproxy.cfg
else
  skip "haproxy -c" "haproxy not found"
fi

# 5. Redis accepts both configurations (compose redis.conf; the chart's extra lines in cluster
#    mode) and reports the settings that matter. Started on free loopback ports, then shut down.
redis_conf_check() { # redis_conf_check CONF PORT PASSWORD
  local conf=$1 port=$2 pass=$3 pid out
  "$redis_server" "$conf" --port "$port" --bind 127.0.0.1 --dir "$work" --daemonize no \
    --logfile "$work/redis-$port.log" ${pass:+--requirepass "$pass"} &
  pid=$!
  for _ in $(seq 50); do REDISCLI_AUTH=$pass redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  out=$(REDISCLI_AUTH=$pass redis-cli -p "$port" config get appendonly appendfsync maxmemory-policy 2>&1 | paste -sd' ')
  REDISCLI_AUTH=$pass redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
  wait "$pid" 2>/dev/null
  echo "$out"; cat "$work/redis-$port.log" 2>/dev/null | grep -i 'error\|fatal' || true
  [[ $out == *"appendonly yes"* && $out == *"appendfsync always"* && $out == *"maxmemory-policy noeviction"* ]]
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# REDIS_SERVER may name the binary (keep it off PATH: see deploy/README.md, last section).
redis_server=${REDIS_SERVER:-$(command -v redis-server || true)}
if [[ -n $redis_server ]] && have redis-cli && have python3; then
  sed "s#^dir /data\$#dir $work#" deploy/compose/redis.conf >"$work/compose-redis.conf"
  check "redis: deploy/compose/redis.conf loads (AOF always, noeviction)" \
    redis_conf_check "$work/compose-redis.conf" "$(free_port)" check-pass
  python3 -c '
import sys, yaml
v = yaml.safe_load(open("deploy/k8s/redis-cluster/values.yaml"))
open(sys.argv[1], "w").write(v["redis"]["configmap"] + "\n")
' "$work/helm-extra.conf"
  # The cluster bus listens on port+10000: pick a port whose bus port is free as well.
  port=$(python3 -c '
import socket
for p in range(23000, 26000, 7):
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass
')
  printf 'cluster-enabled yes\ncluster-config-file %s/nodes.conf\nappendonly yes\ninclude %s/helm-extra.conf\n' \
    "$work" "$work" >"$work/helm-redis.conf"
  check "redis: redis-cluster/values.yaml redis.configmap loads in cluster mode" \
    redis_conf_check "$work/helm-redis.conf" "$port" ""
else
  skip "redis config" "no REDIS_SERVER, no redis-server on PATH, or no redis-cli"
fi

# 6. docker compose config (needs the compose plugin, not a running engine). The env files it
#    reads are git-ignored; missing ones are made from the examples for the check and removed.
if have docker && docker compose version >/dev/null 2>&1; then
  made=()
  for f in allot redis; do
    if [[ ! -e deploy/compose/$f.env ]]; then
      cp "deploy/compose/$f.env.example" "deploy/compose/$f.env" && made+=("deploy/compose/$f.env")
    fi
  done
  check "docker compose config" docker compose -f deploy/compose/compose.yaml config -q
  rm -f "${made[@]}"
else
  skip "docker compose config" "the docker compose plugin is not installed"
fi

# 7. Dockerfile lint.
if have hadolint; then
  check "hadolint: deploy/Dockerfile" hadolint deploy/Dockerfile
else
  skip "hadolint" "hadolint not found"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
