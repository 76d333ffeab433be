#!/usr/bin/env python3
"""Validate JSON files against a JobCast schema with the reference implementation.

Usage:
    python3 scripts/validate-with-jsonschema.py [--schema Schemas/job-posting.schema.json] PATH...

PATH is a .json file or a directory (its *.json files, sorted). For each file one JSON line is
printed on stdout:

    {"file": "…", "valid": false, "errors": [{"pointer": "/salary/min", "message": "…"}]}

Validation is Python `jsonschema` (draft 2020-12) with format checking on ("date" must be a real
calendar date). For the posting schema the cross-field rules that JSON Schema cannot say are applied
too, exactly as listed in Schemas/README.md, so this script is the reference the Swift validator is
tested against (Tests/JobCastCoreTests/ReferenceValidatorAgreementTests.swift).

A `required` error is reported at the pointer of the missing property (/salary/max), as JobCast does.
Exit status: 0 all valid, 1 some invalid, 2 usage or setup error (jsonschema missing: `pip install jsonschema`).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.stderr.write("jsonschema is not installed: run `pip install jsonschema` (scripts/test.sh does)\n")
    sys.exit(2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTING_SCHEMA_ID = "urn:jobcast:schema:job-posting"


def pointer(parts):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def cross_field_errors(instance):
    """The posting rules JSON Schema cannot express. Keep in sync with Schemas/README.md."""
    if not isinstance(instance, dict) or instance.get("action") == "withdraw":
        return []
    salary = instance.get("salary")
    if not isinstance(salary, dict):
        return []
    lo, hi = salary.get("min"), salary.get("max")

    def is_int(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()

    if is_int(lo) and is_int(hi) and lo > hi:
        return [{"pointer": "/salary/min", "message": f"{lo} is above /salary/max {hi}"}]
    return []


def errors_for(validator, instance, check_cross_fields):
    out = []
    for error in validator.iter_errors(instance):
        path = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for name in error.validator_value:
                if name not in error.instance and repr(name) in error.message:
                    path = path + [name]
                    break
        out.append({"pointer": pointer(path), "message": error.message})
    if check_cross_fields:
        out.extend(cross_field_errors(instance))
    return out


def main(argv):
    schema_path = os.path.join(ROOT, "Schemas", "job-posting.schema.json")
    paths = []
    it = iter(argv)
    for arg in it:
        if arg == "--schema":
            schema_path = next(it, None)
            if schema_path is None:
                sys.stderr.write("--schema needs a path\n")
                return 2
        else:
            paths.append(arg)
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    check_cross_fields = schema.get("$id") == POSTING_SCHEMA_ID

    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".json"))
        else:
            files.append(p)
    all_valid = True
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                instance = json.load(f)
            errors = errors_for(validator, instance, check_cross_fields)
        except ValueError as e:
            errors = [{"pointer": "", "message": f"not JSON: {e}"}]
        all_valid = all_valid and not errors
        print(json.dumps({"file": os.path.basename(path), "valid": not errors, "errors": errors}, ensure_ascii=False))
    return 0 if all_valid else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
