#!/usr/bin/env bash
# Checks deploy/ with the tools that will read it: promtool (Debian's prometheus package) for the
# Prometheus configuration, the alert rules and their unit tests; python3 for the Grafana JSON and the
# provisioning files' YAML. scripts/test.sh runs it; run it alone after editing deploy/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
    echo "check-deploy: promtool not found: apt-get install prometheus (scripts/install-deps.sh --tests does)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The configuration names the compose secret /run/secrets/http_token, which promtool insists exists.
# Check a copy whose only difference is that path, pointing at a stand-in token file; the diff proves it.
cp deploy/prometheus/prometheus.yml deploy/prometheus/alerts.yml "$work/"
echo "check-deploy-token" > "$work/http_token"
sed -i "s#/run/secrets/http_token#$work/http_token#g" "$work/prometheus.yml"
changed=$(diff deploy/prometheus/prometheus.yml "$work/prometheus.yml" | grep -c '^>' || true)
if [ "$changed" != "$(grep -c /run/secrets/http_token deploy/prometheus/prometheus.yml)" ]; then
    echo "check-deploy: rewriting the secret path changed more than the credentials_file lines" >&2
    exit 1
fi
promtool check config "$work/prometheus.yml"
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts.test.yml

python3 - <<'PY'
import json, sys, pathlib, re

root = pathlib.Path("deploy")
dashboard = json.loads((root / "grafana/dashboards/jobcast.json").read_text(encoding="utf-8"))
panels = dashboard.get("panels", [])
assert dashboard.get("uid") and dashboard.get("title"), "dashboard needs a uid and a title"
assert panels, "dashboard has no panels"
exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
assert exprs, "no panel queries anything"
# Every jobcast_* family the dashboard queries must be one the worker exports (MetricNames).
known = set(re.findall(r'"(jobcast_[a-z_]+)"', pathlib.Path("Sources/JobCastWorker/Metrics/WorkerMetrics.swift").read_text()))
known |= set(re.findall(r'"(jobcast_[a-z_]+)"', pathlib.Path("Sources/JobCastChannels/WeChat/WeChatClient.swift").read_text()))
used = {m for e in exprs for m in re.findall(r"\b(jobcast_[a-z_]+?)(?:_bucket|_sum|_count)?\b", e)}
unknown = sorted(u for u in used if u not in known and re.sub(r"_(bucket|sum|count)$", "", u) not in known)
assert not unknown, f"the Grafana dashboard queries families the worker does not export: {unknown}"
for path in [root / "grafana/provisioning/datasources/prometheus.yml", root / "grafana/provisioning/dashboards/jobcast.yml"]:
    text = path.read_text(encoding="utf-8")
    assert "apiVersion: 1" in text, f"{path}: no apiVersion"
print(f"grafana: {len(panels)} panels, {len(exprs)} queries over {len(used)} families, provisioning files present")
PY
echo "check-deploy: OK"
