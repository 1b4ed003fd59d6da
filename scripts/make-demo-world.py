#!/usr/bin/env python3
"""Writes sim/worlds/demo-world.json: the world `octofleet demo` runs against.

Modelled on the seed story (docs/octopus.md): 7 Octopus projects released as one train,
environments Development .. Hosted Release, tenants split between hosted and on-site
customers. The new train (2026.18) has already been through Development and Staging, so the
demo deploys it to the two beta environments. Deterministic: same output every run.
"""
import argparse
import json
import pathlib
import sys

from world_common import TAGSETS, TRAIN_LIFECYCLE

TRAIN = "2026.18"
PROJECTS = [  # name, tenanted mode, new version, previous version
    ("Schema", "Untenanted", "2026.18.0", "2026.17.0"),
    ("Identity", "Tenanted", "3.9.0", "3.8.2"),
    ("Billing", "Tenanted", "4.3.0", "4.2.0"),
    ("Reporting", "Tenanted", "2.2.1", "2.2.0"),
    ("Integrations", "Tenanted", "1.8.0", "1.7.5"),
    ("Portal", "Tenanted", "5.0.2", "5.0.1"),
    ("Web", "Tenanted", "2026.18.0", "2026.17.0"),
]
ENVS = ["Development", "Staging", "Testing", "On Site Beta", "Hosted Beta",
        "On Site Release", "Hosted Release"]
NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne",
         "Tyrell", "Soylent", "Cyberdyne", "Wonka", "Gringotts", "Oscorp", "Pied Piper",
         "Massive Dynamic", "Aperture", "Black Mesa", "Monarch", "Dunder Mifflin", "Prestige",
         "Nakatomi", "Rekall", "Virtucon", "Sirius", "Vehement", "Zorg", "Gekko", "Krusty",
         "Bluth", "Ollivander", "Sterling", "Buy n Large", "InGen", "Abstergo", "Contoso"]


def main():
    default = pathlib.Path(__file__).resolve().parent.parent / "sim/worlds/demo-world.json"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Exit: 0 written, 1 the file cannot be written, "
                                        "2 bad usage.")
    ap.add_argument("--out", type=pathlib.Path, default=default,
                    help="where to write the world (default: sim/worlds/demo-world.json)")
    args = ap.parse_args()
    tenants, history = [], []
    for i, name in enumerate(NAMES):
        hosted = i % 2 == 0
        beta = "Hosted Beta" if hosted else "On Site Beta"
        release = "Hosted Release" if hosted else "On Site Release"
        envs = ["Development", "Staging", beta, release]
        tenants.append({
            "name": name,
            "tags": ["Hosting/Cloud" if hosted else "Hosting/OnSite",
                     "Ring/Beta" if i % 3 else "Ring/Main"],
            "projects": {p[0]: envs for p in PROJECTS if p[1] == "Tenanted"},
        })
        for p in PROJECTS:
            if p[1] != "Tenanted":
                continue
            for env in ("Development", "Staging", beta, release):
                history.append({"project": p[0], "release": p[3], "environment": env,
                                "tenant": name})
            for env in ("Development", "Staging"):
                history.append({"project": p[0], "release": p[2], "environment": env,
                                "tenant": name})
    for p in PROJECTS:
        if p[1] == "Tenanted":
            continue
        for env in ("Development", "Staging", "On Site Beta", "Hosted Beta",
                    "On Site Release", "Hosted Release"):
            history.append({"project": p[0], "release": p[3], "environment": env})
        for env in ("Development", "Staging"):
            history.append({"project": p[0], "release": p[2], "environment": env})
    world = {
        "api_keys": [{"key": "API-OCTOFLEETDEMO0000000000000001", "spaces": ["*"]}],
        "task_cap": 40,
        "seed": 18,
        "spaces": [{
            "name": "Default", "is_default": True,
            "environments": ENVS,
            "lifecycles": [TRAIN_LIFECYCLE],
            "tagsets": TAGSETS,
            "projects": [{"name": p[0], "tenanted": p[1], "lifecycle": "Train",
                          "releases": [p[3], p[2]]} for p in PROJECTS],
            "tenants": tenants,
            "history": history,
        }],
        "rules": [{"project": "*", "environment": "*", "tenant": "*",
                   "duration_ms": [300, 1500]}],
    }
    try:
        args.out.write_text(json.dumps(world, indent=1) + "\n")
    except OSError as e:
        print("make-demo-world.py: cannot write %s: %s" % (args.out, e.strerror), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
