"""What the generated simulator worlds share: the release train's lifecycle and tag sets.

Imported by scripts/gen-world.py and scripts/make-demo-world.py (run as scripts, so this
folder is on sys.path). Keep it data only: both scripts must write the same bytes as before.
"""

TRAIN_LIFECYCLE = {"name": "Train", "phases": [
    {"name": "Dev", "environments": ["Development"]},
    {"name": "Stage", "environments": ["Staging"]},
    {"name": "Beta", "environments": ["On Site Beta", "Hosted Beta"]},
    {"name": "Release", "environments": ["On Site Release", "Hosted Release"]},
]}

TAGSETS = [{"name": "Hosting", "tags": ["Cloud", "OnSite"]},
           {"name": "Ring", "tags": ["Beta", "Main"]}]
