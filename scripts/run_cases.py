#!/usr/bin/env python3
"""Run decision-corpus cases through the enduse binary against a data set.

Usage: run_cases.py ENDUSE_BINARY DATA_DIR CASES.json

CASES.json is `{"cases": [...]}` in the format of corpus/decisions.json.
Prints each mismatch and exits 1 if any. known_at defaults to 2026-11-01.
"""
import json, subprocess, sys

FLAGS = [("actor", "--actor"), ("action", "--action"), ("model", "--model"), ("lot", "--lot"),
         ("place", "--place"), ("at", "--at"), ("recipient", "--recipient"),
         ("destination", "--destination"), ("target_class", "--target-class"),
         ("purpose", "--purpose"), ("status", "--status")]


def main():
    binary, data, cases = sys.argv[1:4]
    with open(cases) as f:
        c = json.load(f)
    bad = 0
    for case in c["cases"]:
        r = case["request"]
        args = [binary, "--json", "check", "--data", data, "--as-of", case["as_of"],
                "--known-at", case.get("known_at", "2026-11-01")]
        for k, flag in FLAGS:
            if k in r:
                args += [flag, str(r[k])]
        if "border_distance_km" in r:
            args += ["--border-distance-km", str(r["border_distance_km"])]
        for a in r.get("approvals", []):
            args += ["--approval", a]
        p = subprocess.run(args, capture_output=True, text=True)
        try:
            got = json.loads(p.stdout)
        except json.JSONDecodeError:
            print(f"{case['name']}: no JSON: {p.stdout[:300]} {p.stderr[:300]}")
            bad += 1
            continue
        e = case["expect"]
        msgs = []
        if got.get("outcome") != e["outcome"]:
            msgs.append(f"outcome {got.get('outcome')} != {e['outcome']}")
        if "parties" in e:
            g = sorted((p["party"], p["outcome"], tuple(sorted(r["id"] for r in p["rules"]))) for p in got.get("parties", []))
            x = sorted((p["party"], p["outcome"], tuple(sorted(p.get("rules", [])))) for p in e["parties"])
            if g != x:
                msgs.append(f"parties {g} != {x}")
        if "approvals" in e:
            ga = sorted(a["authority"] for a in got.get("approvals", []))
            if ga != sorted(e["approvals"]):
                msgs.append(f"approvals {ga} != {sorted(e['approvals'])}")
        if msgs:
            bad += 1
            print(f"{case['name']}: " + "; ".join(msgs))
    print(f"{len(c['cases']) - bad}/{len(c['cases'])} cases pass")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
