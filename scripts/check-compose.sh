#!/usr/bin/env bash
# Checks docker-compose.yml without a Docker engine (scripts/test.sh runs it; CI has no engine either):
#
#   scripts/check-compose.sh                 # all the checks below; exit 1 with one line per problem
#   scripts/check-compose.sh service NAME    # NAME's command and environment as JSON (the fleet test starts
#                                            # local processes with exactly these)
#
# 1. `docker-compose config` (Debian's docker-compose 1.29) accepts the file with .env.example's settings.
# 2. Every variable a jobcast service sets is one jobcast reads (`jobcast config --json`, the catalog in
#    Sources/JobCastCore/ConfigurationVariable.swift), or its _FILE twin pointing at a secret the service mounts;
#    secrets only as _FILE; never a variable and its _FILE twin together.
# 3. Every variable the catalog says a role requires (platform-worker, wechat-worker, dashboard) is set by the
#    services playing it (a role is read from the command: `worker --channel platform`, `dashboard`).
# 4. The fleet's shape: healthchecks on the broker and database, workers depend on them being healthy, at least
#    3 platform workers and 2 WeChat workers, stop_grace_period longer than JOBCAST_SHUTDOWN_TIMEOUT.
# 5. .env.example's JOBCAST_* names and the README's configuration table name exactly the catalog's variables.
#
# The jobcast binary: JOBCAST_BIN, or the one `swift build` made.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The compose file as docker-compose resolves it with .env.example, and nothing from this shell's environment.
env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose --project-directory "$ROOT" -f "$ROOT/docker-compose.yml" \
    --env-file "$ROOT/.env.example" config >"$work/resolved.yml"

if [ "${1:-}" = service ]; then
    exec python3 - "$work/resolved.yml" "${2:?usage: check-compose.sh service NAME}" <<'PY'
import json, sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
service = config["services"].get(sys.argv[2])
if service is None:
    sys.exit(f"no service {sys.argv[2]} in docker-compose.yml")
environment = service.get("environment") or {}
if isinstance(environment, list):
    environment = dict(item.split("=", 1) for item in environment)
print(json.dumps({"command": service.get("command") or [], "environment": {k: "" if v is None else str(v) for k, v in environment.items()},
                  "secrets": [s["source"] if isinstance(s, dict) else s for s in service.get("secrets") or []]}, indent=2))
PY
fi

echo "check-compose: docker-compose config accepts docker-compose.yml with .env.example"
bin="${JOBCAST_BIN:-$(swift build --show-bin-path 2>/dev/null)/jobcast}"
[ -x "$bin" ] || { echo "check-compose: no jobcast binary at $bin: run swift build (or set JOBCAST_BIN)" >&2; exit 2; }
"$bin" config --json >"$work/catalog.json"

python3 - "$work/resolved.yml" "$work/catalog.json" "$ROOT/.env.example" "$ROOT/README.md" <<'PY'
import json, re, sys, yaml

resolved, catalog_path, env_example, readme = sys.argv[1:5]
config = yaml.safe_load(open(resolved))
catalog = {v["name"]: v for v in json.load(open(catalog_path))}
problems = []

def known(name):
    """The catalog variable a name sets: itself, or the one whose _FILE twin it is."""
    if name in catalog:
        return catalog[name], False
    if name.endswith("_FILE") and name[:-5] in catalog and catalog[name[:-5]]["acceptsFile"]:
        return catalog[name[:-5]], True
    return None, False

def seconds(text):
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    for amount, unit in re.findall(r"([\d.]+)(ms|us|h|m|s)", str(text)):
        total += float(amount) * units[unit]
    return total

services = config.get("services", {})
jobcast_services = {}
for name, service in services.items():
    image = str(service.get("image", ""))
    build = service.get("build")
    if image.startswith("jobcast:") or build is not None:
        jobcast_services[name] = service

for name in ["rabbitmq", "postgres", "platform-worker", "wechat-worker", "dashboard", "prometheus", "grafana", "publisher"]:
    if name not in services:
        problems.append(f"service {name} is missing")
for name in ["platform-worker", "wechat-worker", "dashboard", "publisher"]:
    if name in services and name not in jobcast_services:
        problems.append(f"{name}: does not run the jobcast image")

for name, service in sorted(jobcast_services.items()):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    environment = {k: "" if v is None else str(v) for k, v in environment.items()}
    mounted = {s["source"] if isinstance(s, dict) else s for s in service.get("secrets") or []}
    command = [str(part) for part in (service.get("command") or [])]
    roles = set()
    if command[:1] == ["worker"]:
        channel = command[command.index("--channel") + 1] if "--channel" in command else "all"
        roles |= {"platform": {"platform-worker"}, "wechat": {"wechat-worker"}}.get(channel, {"platform-worker", "wechat-worker"})
    elif command[:1] == ["dashboard"]:
        roles.add("dashboard")
    given = set()
    for variable, value in sorted(environment.items()):
        entry, as_file = known(variable)
        if entry is None:
            problems.append(f"{name}: sets {variable}, which jobcast does not read (jobcast config lists what it reads)")
            continue
        given.add(entry["name"])
        if entry["secret"] and not as_file:
            problems.append(f"{name}: {variable} is a secret: give it as {variable}_FILE=/run/secrets/...")
        if as_file:
            secret = value[len("/run/secrets/"):] if value.startswith("/run/secrets/") else None
            if secret is None or secret not in mounted:
                problems.append(f"{name}: {variable}={value} is not a secret the service mounts (its secrets: {sorted(mounted)})")
            if entry["name"] in environment:
                problems.append(f"{name}: sets both {entry['name']} and {variable}; jobcast refuses that")
    for role in sorted(roles):
        for variable in catalog.values():
            if role in variable["requiredBy"] and variable["name"] not in given:
                problems.append(f"{name}: plays {role} but does not set {variable['name']} (or {variable['name']}_FILE)")
    if "platform-worker" in roles or "wechat-worker" in roles:
        timeout = float(environment.get("JOBCAST_SHUTDOWN_TIMEOUT") or catalog["JOBCAST_SHUTDOWN_TIMEOUT"]["defaultValue"])
        grace = seconds(service.get("stop_grace_period", "10s"))
        if grace <= timeout:
            problems.append(f"{name}: stop_grace_period {grace:g}s is not longer than JOBCAST_SHUTDOWN_TIMEOUT {timeout:g}s")
        for dependency in ["rabbitmq", "postgres"]:
            condition = (service.get("depends_on") or {}).get(dependency, {}).get("condition")
            if condition != "service_healthy":
                problems.append(f"{name}: does not wait for {dependency} to be healthy (depends_on condition service_healthy)")

for name in ["rabbitmq", "postgres"]:
    if name in services and "healthcheck" not in services[name]:
        problems.append(f"{name}: no healthcheck, so depends_on service_healthy would never hold")
for name, least in [("platform-worker", 3), ("wechat-worker", 2)]:
    replicas = ((services.get(name) or {}).get("deploy") or {}).get("replicas", 1)
    if replicas < least:
        problems.append(f"{name}: {replicas} replicas, want at least {least}")
if "publish" not in ((services.get("publisher") or {}).get("profiles") or []):
    problems.append("publisher: not under the profile publish (it would run on every `up`)")

# .env.example: its JOBCAST_* names are variables jobcast reads; secrets never appear there.
for number, line in enumerate(open(env_example, encoding="utf-8"), 1):
    match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=", line)
    if not match or not match.group(1).startswith("JOBCAST_"):
        continue
    entry, _ = known(match.group(1))
    if entry is None:
        problems.append(f".env.example:{number}: {match.group(1)} is not a variable jobcast reads")
    elif entry["secret"]:
        problems.append(f".env.example:{number}: {match.group(1)} is a secret; it belongs under secrets/, not .env")

# Dockerfile: what the fleet relies on, and only variables jobcast reads in its ENV.
dockerfile = open(readme.rsplit("/", 1)[0] + "/Dockerfile", encoding="utf-8").read()
logical = re.sub(r"\\\n", " ", dockerfile)
instructions = [line.strip() for line in logical.splitlines() if line.strip() and not line.strip().startswith("#")]
stages = [line for line in instructions if line.upper().startswith("FROM ")]
if len(stages) < 2:
    problems.append("Dockerfile: not multi-stage (a build stage and a slim runtime stage)")
elif "bookworm-slim" not in stages[-1]:
    problems.append(f"Dockerfile: the runtime stage is {stages[-1]!r}, not debian:bookworm-slim")
final = instructions[instructions.index(stages[-1]):] if stages else instructions
for word, why in [("STOPSIGNAL SIGTERM", "docker stop must send SIGTERM"), ("HEALTHCHECK", "a HEALTHCHECK on /healthz"),
                  ("USER jobcast", "a non-root user"), ("--static-swift-stdlib", "the Swift runtime linked in")]:
    if word not in logical:
        problems.append(f"Dockerfile: no {word} ({why})")
for line in final:
    if line.upper().startswith("ENV "):
        for name in re.findall(r"\b(JOBCAST_[A-Z0-9_]+)=", line):
            if known(name)[0] is None:
                problems.append(f"Dockerfile: ENV {name} is not a variable jobcast reads")

# README: the configuration table names every catalog variable and no other.
text = open(readme, encoding="utf-8").read()
section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0] if "## Configuration" in text else ""
table = {name for line in section.splitlines() if line.startswith("| `JOBCAST_") for name in re.findall(r"`(JOBCAST_[A-Z0-9_]+)`", line.split("|")[1])}
for name in sorted(set(catalog) - table):
    problems.append(f"README.md: the configuration table does not list {name}")
for name in sorted(table - set(catalog)):
    problems.append(f"README.md: the configuration table lists {name}, which jobcast does not read")

for problem in problems:
    print("check-compose: " + problem)
if problems:
    sys.exit(1)
print(f"check-compose: {len(jobcast_services)} jobcast services set only variables jobcast reads, and every required one; "
      f".env.example and the README's table match the {len(catalog)} variables of `jobcast config`")
PY
