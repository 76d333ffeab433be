#!/usr/bin/env bash
# The libFuzzer targets of Tests/Fuzz (json, canonical, csv, validator, render; FuzzTargets.swift says what each
# holds), seeded from Samples/, Tests/HostileInput/cases and Schemas/examples.
#
#   scripts/fuzz.sh              build jobcast-fuzz with -sanitize=fuzzer,address (a release build of its own in
#                                .build-fuzz, long the first time), then RUNS inputs per target (default 20000)
#   scripts/fuzz.sh --if-built   the same, but only when that build is already there (scripts/test.sh: see below)
#   RUNS=0 SECONDS_PER_TARGET=3600 scripts/fuzz.sh    the long run: an hour per target
#   TARGETS="json csv" scripts/fuzz.sh                some targets only
#
# Then, with no fuzzer: the validator's grown corpus against Python's jsonschema (same verdict, same pointers) and
# the platform bodies of its valid postings against Schemas/platform-job.schema.json, both through the debug
# build's jobcast-fuzz replayer and scripts/validate-with-jsonschema.py.
# A crash or disagreement leaves the input as var/fuzz/<target>/crash-… and exits 1; make it a case of
# Tests/HostileInput (make-cases.py) when you fix it. Corpora grow in var/fuzz/<target>/corpus across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=${FUZZ_SCRATCH:-.build-fuzz}
runs=${RUNS:-20000}
seconds=${SECONDS_PER_TARGET:-0}
targets=${TARGETS:-json canonical csv validator render}
work=var/fuzz
bin="$scratch/release/jobcast-fuzz"

fuzz=true
if [ "${1:-}" = "--if-built" ] && [ ! -x "$bin" ]; then
    echo "fuzz: $bin is not built: no fuzzing, only the replay of the seeds (build it once with scripts/fuzz.sh)"
    fuzz=false
fi
replay=$(swift build --scratch-path "${SCRATCH:-.build}" --show-bin-path 2>/dev/null)/jobcast-fuzz
if [ "${1:-}" != "--if-built" ]; then
    echo "== fuzz: building jobcast-fuzz with libFuzzer and AddressSanitizer (release, $scratch)"
    swift build -c release --disable-dead-strip --scratch-path "$scratch" --product jobcast-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING \
        -Xlinker --export-dynamic-symbol=LLVMFuzzerRunDriver 2>&1 | grep -v "Cannot export local symbol" | tail -n 3
fi

# Seeds: each sample posting alone, the schema's examples, the hostile cases; CSV files for the CSV reader.
rm -rf "$work/seed-json" "$work/seed-csv"
mkdir -p "$work/seed-json" "$work/seed-csv"
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"$work/seed-json/sample-$n.json"
done <Samples/spring-job-fair.jsonl
for file in Schemas/examples/valid/*.json Schemas/examples/invalid/*.json Tests/HostileInput/cases/*.json Tests/HostileInput/cases/*.jsonl; do
    cp "$file" "$work/seed-json/$(basename "$(dirname "$file")")-$(basename "$file")"
done
cp Samples/*.csv Tests/HostileInput/cases/*.csv "$work/seed-csv/"

status=0
# Swift's own crash backtracer gets in AddressSanitizer's way; libFuzzer prints what is needed.
export SWIFT_BACKTRACE=enable=no
# Without libFuzzer: every seed through every target, with the debug build's replayer (seconds).
if [ -x "$replay" ]; then
    for target in $targets; do
        seed=$work/seed-json
        [ "$target" = csv ] && seed=$work/seed-csv
        "$replay" "$target" "$seed" | sed 's/^/fuzz replay /' || status=1
    done
fi
for target in $targets; do
    $fuzz || continue
    seed=$work/seed-json
    [ "$target" = csv ] && seed=$work/seed-csv
    mkdir -p "$work/$target/corpus"
    start=$(date +%s)
    options=(-max_len=65536 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$target/")
    [ "$runs" != 0 ] && options+=(-runs="$runs")
    [ "$seconds" != 0 ] && options+=(-max_total_time="$seconds")
    if FUZZ_TARGET=$target "$bin" "${options[@]}" "$work/$target/corpus" "$seed" >"$work/$target/log" 2>&1; then
        result=ok
    else
        result="FAILED (see $work/$target/log and $work/$target/crash-*)"
        status=1
    fi
    executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target/log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $target: $executed inputs in $(($(date +%s) - start)) s, corpus $(find "$work/$target/corpus" -type f | wc -l) files: $result"
done

# The validator against the reference, on what the fuzzer found interesting.
if [[ " $targets " == *" validator "* ]] && [ -x "$replay" ]; then
    cases=$work/validator/as-json
    rm -rf "$cases" "$work/validator/bodies"
    mkdir -p "$cases"
    # Only what Python's json module also reads as JSON (no NaN, no recursion error): the validators are compared,
    # not the parsers (the json target does that against Foundation).
    python3 - "$cases" "$work/validator/corpus" "$work/seed-json" <<'PY'
import json, os, shutil, sys
def refuse(name): raise ValueError(name)
for folder in sys.argv[2:]:
    for name in (os.listdir(folder) if os.path.isdir(folder) else []):
        path = os.path.join(folder, name)
        try:
            json.loads(open(path, "rb").read().decode("utf-8"), parse_constant=refuse)
        except Exception:
            continue
        shutil.copy(path, os.path.join(sys.argv[1], name + ".json"))
PY
    "$replay" verdicts "$cases" >"$work/validator/swift.jsonl"
    python3 scripts/validate-with-jsonschema.py "$cases" >"$work/validator/python.jsonl" || true
    "$replay" platform-bodies "$work/validator/bodies" "$cases"
    if ! python3 - "$work/validator/swift.jsonl" "$work/validator/python.jsonl" <<'PY'; then status=1; fi
import json, sys
swift = {v["file"]: v for v in map(json.loads, open(sys.argv[1]))}
python = {v["file"]: v for v in map(json.loads, open(sys.argv[2]))}
differ = [f for f in sorted(swift) if f in python and (swift[f]["valid"] != python[f]["valid"]
          or set(swift[f]["pointers"]) != {e["pointer"] for e in python[f]["errors"]})]
print(f"fuzz validator vs jsonschema: {len(swift)} inputs, {sum(v['valid'] for v in swift.values())} valid, {len(differ)} disagreements")
for f in differ[:10]:
    print("  ", f, "swift", swift[f], "python", python[f])
sys.exit(1 if differ else 0)
PY
    if [ -n "$(ls "$work/validator/bodies")" ]; then
        if python3 scripts/validate-with-jsonschema.py --schema Schemas/platform-job.schema.json "$work/validator/bodies" >"$work/validator/bodies.jsonl"; then
            echo "fuzz platform bodies vs platform-job.schema.json: $(wc -l <"$work/validator/bodies.jsonl") bodies, all valid"
        else
            echo "fuzz platform bodies vs platform-job.schema.json: some invalid (see $work/validator/bodies.jsonl)"
            status=1
        fi
    fi
fi
exit $status
