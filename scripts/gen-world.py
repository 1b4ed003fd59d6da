#!/usr/bin/env python3
"""Generate an Octopus simulator world fixture (docs/octopus.md, "Fixture format").

The world follows the release-train story: environments Development, Staging,
Testing (in no lifecycle), On Site Beta, Hosted Beta, On Site Release and
Hosted Release; a lifecycle Dev -> Stage -> Beta (2 envs) -> Release (2 envs);
tag sets Hosting (Cloud, OnSite) and Ring (Beta, Main); P projects (the first
one, "Schema", untenanted, the others tenanted); N tenants. A Hosting/Cloud
tenant is connected to Development, Staging and the Hosted environment of its
ring (Hosted Beta for Ring/Beta, Hosted Release for Ring/Main); OnSite tenants
likewise to the On Site environments. Every project has the previous and the
current train release. History: the previous release is current everywhere,
and the current release has already been through Development and Staging for
every tenant, so Beta (and, for Main-ring tenants, Release) is deployable.

Standard library only. Same seed, same arguments -> byte-identical output.

  scripts/gen-world.py --tenants 300 --projects 7 --seed 42 --out world.json
"""

import argparse
import json
import random
import sys

from world_common import TAGSETS, TRAIN_LIFECYCLE

ENVIRONMENTS = ["Development", "Staging", "Testing", "On Site Beta", "Hosted Beta",
                "On Site Release", "Hosted Release"]
PROJECT_NAMES = ["Schema", "Identity", "Billing", "Reporting", "Integrations", "Portal", "Web"]
WORDS_A = ["Acme", "Blue", "Cedar", "Delta", "Echo", "Falcon", "Granite", "Harbor", "Iris",
           "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Orion", "Pine", "Quartz", "River",
           "Summit", "Tidal", "Umber", "Vertex", "Willow", "Xenon", "Yarrow", "Zephyr"]
WORDS_B = ["Logistics", "Health", "Foods", "Labs", "Media", "Energy", "Retail", "Bank",
           "Insurance", "Motors", "Pharma", "Systems", "Travel", "Freight", "Dental", "Legal"]
DEFAULT_KEY = "API-OCTOFLEETTEST0000000000000001"


def positive(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Exit: 0 written, 1 the file cannot be written, "
                                       "2 bad usage.")
    p.add_argument("--tenants", type=positive, default=300, help="number of tenants (300)")
    p.add_argument("--projects", type=positive, default=7,
                   help="number of projects, >= 1 (7); the first is untenanted")
    p.add_argument("--seed", type=int, default=42, help="random seed (42)")
    p.add_argument("--out", default="-", help="output file, - for stdout")
    p.add_argument("--train-version", default="2026.18.0", help="current release (2026.18.0)")
    p.add_argument("--previous-version", default="2026.16.0",
                   help="previous release, current everywhere (2026.16.0)")
    p.add_argument("--beta-percent", type=positive, default=10,
                   help="share of tenants in Ring/Beta (10)")
    p.add_argument("--cloud-percent", type=positive, default=60,
                   help="share of tenants hosted in the cloud (60)")
    p.add_argument("--connect-percent", type=positive, default=85,
                   help="chance a tenant uses a given tenanted project (85)")
    p.add_argument("--task-cap", type=positive, default=5, help="server task cap (5)")
    p.add_argument("--api-key", default=DEFAULT_KEY, help="API key with rights on every space")
    args = p.parse_args(argv)
    if args.projects < 1:
        p.error("--projects must be at least 1")
    for name in ("beta_percent", "cloud_percent", "connect_percent"):
        if getattr(args, name) > 100:
            p.error("--%s must be 0-100" % name.replace("_", "-"))
    return args


def project_names(count):
    names = PROJECT_NAMES[:count]
    names += ["Service %02d" % i for i in range(len(names) + 1, count + 1)]
    return names


def tenant_names(count, rnd):
    names, seen = [], set()
    for i in range(count):
        base = "%s %s" % (rnd.choice(WORDS_A), rnd.choice(WORDS_B))
        name = base if base not in seen else "%s %d" % (base, i + 1)
        seen.add(name)
        names.append(name)
    return names


def build(args):
    rnd = random.Random(args.seed)
    projects = project_names(args.projects)
    tenanted = projects[1:]
    world_projects = []
    for i, name in enumerate(projects):
        world_projects.append({
            "name": name,
            "tenanted": "Untenanted" if i == 0 else "Tenanted",
            "lifecycle": "Train",
            "releases": [args.previous_version, args.train_version],
        })
    tenants = []
    for name in tenant_names(args.tenants, rnd):
        cloud = rnd.randrange(100) < args.cloud_percent
        beta = rnd.randrange(100) < args.beta_percent
        where = "Hosted" if cloud else "On Site"
        envs = ["Development", "Staging", "%s %s" % (where, "Beta" if beta else "Release")]
        used = [p for p in tenanted if rnd.randrange(100) < args.connect_percent]
        if not used and tenanted:
            used = [rnd.choice(tenanted)]
        tenants.append({
            "name": name,
            "tags": ["Hosting/" + ("Cloud" if cloud else "OnSite"),
                     "Ring/" + ("Beta" if beta else "Main")],
            "projects": {p: envs for p in used},
        })
    history = []
    for i, name in enumerate(projects):
        who = {} if i == 0 else {"tenant": "*"}
        history.append(dict(project=name, release=args.previous_version, environment="*", **who))
        for env in ("Development", "Staging"):
            history.append(dict(project=name, release=args.train_version, environment=env, **who))
    return {
        "_comment": "generated by scripts/gen-world.py --tenants %d --projects %d --seed %d"
                    % (args.tenants, args.projects, args.seed),
        "api_keys": [{"key": args.api_key, "spaces": ["*"]}],
        "task_cap": args.task_cap,
        "seed": args.seed,
        "spaces": [{
            "name": "Default",
            "is_default": True,
            "environments": ENVIRONMENTS,
            "lifecycles": [TRAIN_LIFECYCLE],
            "tagsets": TAGSETS,
            "projects": world_projects,
            "tenants": tenants,
            "history": history,
        }],
        "rules": [{"project": "*", "duration_ms": [100, 400]}],
    }


def dump(world):
    """Indented JSON, but one project / tenant / history entry per line, so the
    file stays small and diffs stay readable."""
    space = world["spaces"][0]
    compact = {}
    for key in ("projects", "tenants", "history"):
        items = [json.dumps(item, ensure_ascii=False) for item in space[key]]
        compact[key] = "[\n" + ",\n".join("        " + item for item in items) + "\n      ]"
        space[key] = "@@%s@@" % key
    text = json.dumps(world, indent=2, ensure_ascii=False)
    for key, value in compact.items():
        text = text.replace('"@@%s@@"' % key, value)
    return text + "\n"


def main(argv):
    args = parse_args(argv)
    text = dump(build(args))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            print("gen-world.py: cannot write %s: %s" % (args.out, e.strerror), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
