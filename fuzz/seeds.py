#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/) from examples/.

Run from anywhere: python3 fuzz/seeds.py. Needs PyYAML (only to regenerate the committed seeds;
`make fuzz` and `make test` use the committed files). Each seed is named by its content's hash.
"""
import hashlib
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"

# Hand-written CEL seeds: the library functions and the ones the cost model charges by input.
CEL = [
    "schema.spec.name + '-x'",
    "size(schema.spec.tags.distinct())",
    "'abc'.replace('', 'xy')",
    "['a', 'b'].join(',')",
    "[3, 1, 2].sort()",
    "'a' in ['a', 'b'] && {'k': 1}['k'] == 1 && [1] < [2]",
    "'hello'.matches('^h.*o$') && 'hello'.find('l+') == 'll'",
    "'abc'.reverse().indexOf('b') == 1 && 'abc'.contains('b')",
    "[1, 2, 3].map(x, x * 2).filter(x, x > 2).exists(x, x == 4)",
    "has(schema.spec.x) ? schema.spec.x : 'none'",
    "string(int('42') + 1) + string(3.5) + string(true)",
    "duration('1h') + timestamp('2024-01-01T00:00:00Z') > timestamp('2023-01-01T00:00:00Z')",
    "base64.encode(b'abc') + crypto.sha256(b'x')",
    "url('https://example.com/a?b=c').getHost()",
    "semver('1.2.3').major() == 1",
    "schema.spec.?missing.orValue('d')",
    "random.seededString(8, schema.metadata.uid)",
    "runtime.newCondition('Ready', 'True', 'Ok', 'fine')",
    "lists.range(10).map(i, i * i)",
    "{'a': [1, {'b': 'c'}]}.a[1].b",
    "'%s-%d'.format(['x', 1])",
    "'A,B'.split(',').map(s, s.lowerAscii())",
    "math.greatest([1, 5, 3]) + math.least(1, 2)",
]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def expressions(s):
    """The `${...}` bodies of s, by brace matching (string literals ignored: seeds only)."""
    out = []
    for m in re.finditer(r"\$\{", s):
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[i], 0)
            i += 1
        if depth == 0:
            out.append(s[m.end() : i - 1])
    return out


def main():
    cel, scan, markers = set(CEL), set(), set()
    for rgd_file in sorted(ROOT.glob("examples/*/rgd*.yaml")):
        d = rgd_file.parent
        observed = []
        for f in sorted((d / "observed").glob("*.yaml")) if (d / "observed").is_dir() else []:
            observed += docs(f)
        for rgd in docs(rgd_file):
            write("compile", json.dumps(rgd))
            schema = rgd.get("spec", {}).get("schema", {})
            write("schema", json.dumps({k: schema.get(k) for k in ("spec", "types")}))
            for s in strings({k: schema.get(k) for k in ("spec", "types")}):
                markers.add(s)
            for s in strings(rgd.get("spec", {})):
                if "${" in s:
                    scan.add(s)
                    cel.update(expressions(s))
            suffix = rgd_file.stem[len("rgd") :]
            for inst_file in sorted(d.glob(f"instance{suffix}.yaml")):
                for instance in docs(inst_file):
                    write(
                        "evaluate",
                        json.dumps({"rgd": rgd, "instance": instance, "objects": observed}),
                    )
    for s in sorted(scan):
        write("scan", s)
    for s in sorted(markers):
        write("markers", s)
    for e in sorted(cel):
        write("cel", e)
    write("cel", 'schema.spec.tags.distinct()\0{"spec": {"tags": ["a", "b", "a"]}}')


main()
