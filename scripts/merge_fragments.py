#!/usr/bin/env python3
"""Merge data-set fragments into one data set directory.

Usage: merge_fragments.py BASE OUT [FRAGMENT_DIR ...]

BASE is a data set directory (e.g. data/ukraine-2022-2025). Each fragment
directory may hold any of the data set's TOML files (sources.toml,
approvals.toml, defaults.toml, transfers.toml, treaties.toml, models.toml,
parties.toml, groups.toml, targets.toml, areas.toml, conflicts.toml,
places.toml) and policies/*.cedar. TOML arrays of tables are concatenated;
an item whose id (code for places) already exists is skipped if identical
and reported if it differs. Policy files are copied; a policy file that
exists already gets the fragment's rules appended.
"""
import os, shutil, sys, tomllib

KEYS = {"place": "code"}


def dump_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(dump_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {dump_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def main():
    base, out, frags = sys.argv[1], sys.argv[2], sys.argv[3:]
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(base, out)
    problems = 0
    for frag in frags:
        for name in sorted(os.listdir(frag)):
            path = os.path.join(frag, name)
            if name.endswith(".toml"):
                with open(path, "rb") as f:
                    new = tomllib.load(f)
                target = os.path.join(out, name)
                have = {}
                if os.path.exists(target):
                    with open(target, "rb") as f:
                        have = tomllib.load(f)
                text = ""
                for table, items in new.items():
                    key = KEYS.get(table, "id")
                    known = {i.get(key): i for i in have.get(table, [])}
                    for item in items:
                        k = item.get(key)
                        if k in known:
                            if known[k] != item:
                                print(f"{frag}/{name}: {table} `{k}` differs from an earlier definition; kept the first", file=sys.stderr)
                                problems += 1
                            continue
                        known[k] = item
                        text += f"\n[[{table}]]\n" + "".join(f"{a} = {dump_value(b)}\n" for a, b in item.items())
                with open(target, "a") as f:
                    f.write(text)
            elif name == "policies":
                os.makedirs(os.path.join(out, "policies"), exist_ok=True)
                for p in sorted(os.listdir(path)):
                    src = os.path.join(path, p)
                    dst = os.path.join(out, "policies", p)
                    with open(src) as f:
                        text = f.read()
                    with open(dst, "a") as f:
                        f.write("\n" + text)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
