#!/usr/bin/env python3
"""Install and package test (docs/install.md, docs/testing.md): what a platform team gets.

    test_install.py --build-dir BUILD --source-dir SRC [--cmake CMAKE] [--cpack CPACK]

1. `cmake --install` into a DESTDIR (prefix /usr/local): every listed file is there, the
   installed binaries run, the man pages render without warnings, the example config loads,
   the sysusers.d file creates the octofleet user in a scratch root, octopus-sim serves an
   installed world; the alert rules and the Grafana dashboard are under share/octofleet.
2. `cmake --install --prefix <tmp>` and `systemd-analyze verify` on the installed units (so
   ExecStart's binary and the man: Documentation= links resolve). No systemd-analyze: a
   failure, unless OF_INSTALL_TEST_SKIP_SYSTEMD=1.
3. `cpack -G DEB`: the .deb's control fields, Depends, maintainer scripts and file list; its
   units name /usr/bin/octofleet and /etc/octofleet. The Containerfile's runtime packages
   cover the .deb's Depends.
4. The Kubernetes manifests: image and command match the Containerfile, the pods' probes,
   metrics port, scrape annotations, resources, security context and API-key Secret, and the
   ConfigMap's config loads (always); schema
   validation with kubernetes-validate (PyPI, bundled schemas, offline once installed) when
   it is on PATH or can be installed into a cached venv, otherwise said plainly (and a failure
   when OF_INSTALL_TEST_REQUIRE_MANIFESTS=1).
5. The container image: built and run only where podman or docker works and can get the
   Debian 12 base image; otherwise the reason is printed and nothing fails.
   OF_INSTALL_TEST_IMAGE=0 skips it.

Prints one line per check and a summary of what was and was not verified. Exit 0 when
nothing failed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

RESULTS = []   # (status, what): status in PASS, FAIL, SKIP, NOTE


def record(status, what):
    RESULTS.append((status, what))
    print("%-4s %s" % (status, what), flush=True)


def check(cond, what, detail=""):
    if cond:
        record("PASS", what)
    else:
        record("FAIL", what + (": " + detail if detail else ""))
    return cond


def run(argv, timeout=120, env=None, cwd=None):
    """Runs argv; returns (rc, stdout+stderr as text). rc -1 on timeout or exec failure."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, env=env, cwd=cwd, check=False)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return -1, "timed out after %ss: %s" % (timeout, " ".join(argv))
    except OSError as e:
        return -1, "%s: %s" % (argv[0], e)


def project_version(src):
    with open(os.path.join(src, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(octofleet\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else None


def commands(octofleet_help):
    """The commands `octofleet --help` lists (as scripts/gen-man.py reads them), minus help."""
    out, on = [], False
    for line in octofleet_help.splitlines():
        if line.strip() == "Commands:":
            on = True
            continue
        if on:
            m = re.match(r"^ {2,}([a-z][a-z0-9-]*) {2,}\S", line)
            if not m:
                break
            if m.group(1) != "help":
                out.append(m.group(1))
    return out


def expected_files(src, cmds, prefix, sysconf, unitdir, sysusersdir):
    """Paths (without DESTDIR) an install of that layout must contain."""
    files = [prefix + "/bin/octofleet", prefix + "/bin/octopus-sim",
             sysconf + "/octofleet/octofleet.cfg.example",
             unitdir + "/octofleet-producer.service", unitdir + "/octofleet-worker@.service",
             unitdir + "/octofleet-notify.service",
             sysusersdir + "/octofleet.conf",
             prefix + "/share/man/man1/octofleet.1", prefix + "/share/man/man1/octopus-sim.1",
             prefix + "/share/doc/octofleet/README.md",
             prefix + "/share/doc/octofleet/examples/octofleet.yaml",
             prefix + "/share/octofleet/prometheus/alerts.yml",
             prefix + "/share/octofleet/prometheus/prometheus.yml",
             prefix + "/share/octofleet/grafana/octofleet.json"]
    files += [prefix + "/share/man/man1/octofleet-%s.1" % c for c in cmds]
    files += [prefix + "/share/doc/octofleet/" + d
              for d in sorted(os.listdir(os.path.join(src, "docs"))) if d.endswith(".md")]
    files += [prefix + "/share/octofleet/worlds/" + w
              for w in sorted(os.listdir(os.path.join(src, "sim", "worlds")))
              if w.endswith(".json")]
    return files


def check_man_page(path):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    ok = re.search(r"^\.TH \S+ 1 ", text, re.M) and "\n.SH NAME\n" in text
    if not ok:
        return check(False, "man page %s has a .TH header and a NAME section" % name)
    if shutil.which("groff"):
        rc, out = run(["groff", "-man", "-Tutf8", "-ww", "-z", path], timeout=30)
        return check(rc == 0 and not out.strip(), "man page %s renders (groff -ww)" % name, out)
    if shutil.which("man"):
        rc, out = run(["man", "-l", path], timeout=30, env=dict(os.environ, MANPAGER="cat"))
        return check(rc == 0, "man page %s renders (man -l)" % name, out[-500:])
    record("NOTE", "man page %s: header checked only (no groff or man here)" % name)
    return True


def check_octopus_sim_world(sim, world):
    """octopus-sim serves an installed world: prints its listening line, then stops on SIGTERM."""
    try:
        p = subprocess.Popen([sim, "--fixture", world, "--port", "0"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    except OSError as e:
        return check(False, "octopus-sim starts with %s" % world, str(e))
    line = ""
    deadline = time.monotonic() + 20
    try:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and "listening on" not in line:
            if sel.select(timeout=0.5):
                chunk = p.stdout.readline().decode("utf-8", "replace")
                if not chunk:
                    break
                line = chunk
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return check("listening on" in line,
                 "installed octopus-sim serves the installed %s" % os.path.basename(world),
                 line or "no listening line")


# --- 1. cmake --install into a DESTDIR --------------------------------------------------------

def test_destdir(a, work, version):
    dest = os.path.join(work, "destdir")
    env = dict(os.environ, DESTDIR=dest)
    rc, out = run([a.cmake, "--install", a.build_dir, "--prefix", "/usr/local"], env=env)
    if not check(rc == 0, "cmake --install (DESTDIR, prefix /usr/local)", out[-2000:]):
        return
    root = dest + "/usr/local"
    octofleet = root + "/bin/octofleet"
    rc, top = run([octofleet, "--help"], timeout=30)
    check(rc == 0, "installed octofleet --help exits 0", top[-500:])
    cmds = commands(top)
    check(len(cmds) >= 5, "octofleet --help lists its commands", " ".join(cmds))
    missing = [f for f in expected_files(a.source_dir, cmds, "/usr/local", "/usr/local/etc",
                                         "/usr/local/lib/systemd/system",
                                         "/usr/local/lib/sysusers.d")
               if not os.path.isfile(dest + f)]
    check(not missing, "every listed file is installed (%d commands' man pages, docs, worlds)"
          % len(cmds), "missing: " + " ".join(missing))

    rc, out = run([octofleet, "--version"], timeout=30)
    check(rc == 0 and version in out, "installed octofleet --version says %s" % version, out)
    rc, out = run([root + "/bin/octopus-sim", "--help"], timeout=30)
    check(rc == 0 and out.startswith("usage:"), "installed octopus-sim --help exits 0", out[-300:])
    for c in cmds:
        rc, out = run([octofleet, c, "--help"], timeout=30)
        if rc != 0:
            check(False, "octofleet %s --help exits 0" % c, out[-300:])
    for w in sorted(os.listdir(root + "/share/octofleet/worlds")):
        check_octopus_sim_world(root + "/bin/octopus-sim", root + "/share/octofleet/worlds/" + w)
        break   # one world proves the path; the simulator's own tests cover the worlds

    mandir = root + "/share/man/man1"
    for m in sorted(os.listdir(mandir)):
        check_man_page(os.path.join(mandir, m))

    example = dest + "/usr/local/etc/octofleet/octofleet.cfg.example"
    rc, out = run([octofleet, "producer", "-c", example, "--dump-config"], timeout=30)
    check(rc == 0, "the installed example config loads (producer --dump-config)", out[-500:])

    for unit in ("octofleet-producer.service", "octofleet-worker@.service"):
        with open(root + "/lib/systemd/system/" + unit, encoding="utf-8") as f:
            text = f.read()
        check("@" + "OF_" not in text and "ExecStart=/usr/local/bin/octofleet " in text
              and "-c /usr/local/etc/octofleet/octofleet.cfg" in text
              and "LoadCredential=octopus-api-key:/usr/local/etc/octofleet/octopus-api-key"
              in text and "octopus.api_key_file=%d/octopus-api-key" in text,
              "%s names this install's paths and the API-key credential" % unit)

    # The sysusers.d file, applied to a scratch root (the .deb's postinst does it for real).
    sysusers = shutil.which("systemd-sysusers")
    if sysusers:
        scratch = os.path.join(work, "sysusers-root")
        os.makedirs(scratch + "/etc")
        rc, out = run([sysusers, "--root=" + scratch, root + "/lib/sysusers.d/octofleet.conf"])
        passwd = open(scratch + "/etc/passwd", encoding="utf-8").read() if rc == 0 else ""
        group = open(scratch + "/etc/group", encoding="utf-8").read() if rc == 0 else ""
        check(rc == 0 and re.search(r"^octofleet:x:\d+:\d+:.*:/usr/sbin/nologin$", passwd, re.M)
              and re.search(r"^octofleet:x:\d+:", group, re.M),
              "sysusers.d/octofleet.conf creates the octofleet system user and group", out)
    else:
        record("SKIP", "sysusers.d file not applied: systemd-sysusers is not installed")


# --- 2. systemd-analyze verify ----------------------------------------------------------------

def test_systemd_verify(a, work):
    tool = shutil.which("systemd-analyze")
    if not tool:
        msg = ("systemd-analyze is not installed (Debian package systemd; "
               "scripts/install-deps.sh installs it)")
        if os.environ.get("OF_INSTALL_TEST_SKIP_SYSTEMD") == "1":
            record("SKIP", "units not verified: " + msg + "; OF_INSTALL_TEST_SKIP_SYSTEMD=1")
        else:
            record("FAIL", "units not verified: " + msg +
                   " (set OF_INSTALL_TEST_SKIP_SYSTEMD=1 to skip)")
        return
    # A real prefix on this machine, so ExecStart's binary exists where the unit says (verify
    # checks it) without --root, which would need the whole systemd tree under the root.
    prefix = os.path.join(work, "prefix")
    rc, out = run([a.cmake, "--install", a.build_dir, "--prefix", prefix])
    if not check(rc == 0, "cmake --install --prefix %s" % prefix, out[-2000:]):
        return
    units = [prefix + "/lib/systemd/system/" + u
             for u in ("octofleet-producer.service", "octofleet-worker@.service",
                       "octofleet-notify.service")]
    # MANPATH: the Documentation=man: pages are looked up (systemd-analyze runs man).
    env = dict(os.environ, MANPATH=prefix + "/share/man", SYSTEMD_PAGER="", PAGER="cat")
    rc, out = run([tool, "verify"] + units, timeout=60, env=env)
    # verify also prints warnings it does not count in its exit code ("ignoring"): any
    # output is a finding.
    check(rc == 0 and not out.strip(),
          "systemd-analyze verify: the units (ExecStart, man: links, every directive)", out)


# --- 3. cpack -G DEB ---------------------------------------------------------------------------

DEB_LIBS = ["libc6", "librdkafka1", "libcurl4", "libjansson4", "libconfig9", "libmicrohttpd12",
            "libuuid1", "libssl3"]


def containerfile_runtime_packages(src):
    """The packages the Containerfile's runtime stage installs by name (its apt-get lines after
    the last FROM)."""
    path = os.path.join(src, "Containerfile")
    if not os.path.isfile(path):
        return None
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    stage = text[text.rfind("\nFROM "):]
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&;\n]*)", stage):
        pkgs.update(t for t in m.group(1).split() if not t.startswith(("-", ".", "/", "$")))
    return pkgs


def test_deb(a, work, version):
    cpack = a.cpack
    outdir = os.path.join(work, "deb")
    rc, out = run([cpack, "-G", "DEB", "-B", outdir, "--config",
                   os.path.join(a.build_dir, "CPackConfig.cmake")], timeout=300, cwd=a.build_dir)
    debs = [f for f in os.listdir(outdir) if f.endswith(".deb")] if os.path.isdir(outdir) else []
    if not check(rc == 0 and len(debs) == 1, "cpack -G DEB builds one .deb", out[-2000:]):
        return None
    deb = os.path.join(outdir, debs[0])
    if not shutil.which("dpkg-deb"):
        record("FAIL", "dpkg-deb is not installed: the .deb's contents cannot be checked")
        return None
    fields = {}
    for f in ("Package", "Version", "Maintainer", "Depends", "Description", "Architecture"):
        rc, out = run(["dpkg-deb", "-f", deb, f])
        fields[f] = out.strip() if rc == 0 else ""
    check(fields["Package"] == "octofleet", "deb Package: octofleet", fields["Package"])
    check(fields["Version"].startswith(version + "-"), "deb Version: %s-N" % version,
          fields["Version"])
    check(bool(fields["Maintainer"]) and bool(fields["Description"]),
          "deb has Maintainer and Description")
    depends = [d.strip().split()[0] for d in fields["Depends"].split(",") if d.strip()]
    check(all(lib in depends for lib in DEB_LIBS),
          "deb Depends (dpkg-shlibdeps): %s" % fields["Depends"],
          "missing " + " ".join(lib for lib in DEB_LIBS if lib not in depends))

    rc, listing = run(["dpkg-deb", "-c", deb])
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
    rc, top = run([os.path.join(a.build_dir, "bin", "octofleet"), "--help"], timeout=30)
    want = expected_files(a.source_dir, commands(top), "/usr", "/etc", "/usr/lib/systemd/system",
                          "/usr/lib/sysusers.d")
    missing = [p for p in want if p not in paths]
    check(not missing, "deb contains binaries in /usr/bin, units, sysusers, config example, "
          "man pages, docs, worlds (%d files)" % len(want), "missing: " + " ".join(missing))
    stray = [p for p in paths if p.startswith("/usr/local")]
    check(not stray, "deb installs nothing under /usr/local", " ".join(stray[:5]))

    ctl = os.path.join(work, "deb-control")
    run(["dpkg-deb", "-e", deb, ctl])
    for script in ("postinst", "postrm"):
        p = os.path.join(ctl, script)
        ok = os.path.isfile(p) and os.access(p, os.X_OK)
        rc, out = run(["sh", "-n", p]) if ok else (1, "missing or not executable")
        check(ok and rc == 0, "deb %s present, executable, valid sh" % script, out)
    postinst = open(os.path.join(ctl, "postinst"), encoding="utf-8").read() \
        if os.path.isfile(os.path.join(ctl, "postinst")) else ""
    code = "\n".join(l for l in postinst.splitlines() if not l.lstrip().startswith("#"))
    check("systemd-sysusers octofleet.conf" in code and "systemctl daemon-reload" in code
          and not re.search(r"systemctl\s+(enable|start|restart)|deb-systemd|invoke-rc", code),
          "postinst creates the user and reloads systemd, enables and starts nothing")
    conffiles = open(os.path.join(ctl, "conffiles"), encoding="utf-8").read() \
        if os.path.isfile(os.path.join(ctl, "conffiles")) else ""
    check("/etc/octofleet/octofleet.cfg.example" in conffiles.split(),
          "deb marks /etc/octofleet/octofleet.cfg.example as a conffile", conffiles)

    unpacked = os.path.join(work, "deb-root")
    run(["dpkg-deb", "-x", deb, unpacked])
    for unit in ("octofleet-producer.service", "octofleet-worker@.service"):
        p = unpacked + "/usr/lib/systemd/system/" + unit
        text = open(p, encoding="utf-8").read() if os.path.isfile(p) else ""
        check("ExecStart=/usr/bin/octofleet " in text
              and "-c /etc/octofleet/octofleet.cfg" in text
              and "LoadCredential=octopus-api-key:/etc/octofleet/octopus-api-key" in text,
              "deb's %s runs /usr/bin/octofleet with /etc/octofleet" % unit)

    # docs/configuration.md's systemd credentials example quotes the .deb's worker unit.
    doc = open(os.path.join(a.source_dir, "docs", "configuration.md"), encoding="utf-8").read()
    m = re.search(r"```\n\[Service\]\n(.*?)```", doc, re.S)
    worker = unpacked + "/usr/lib/systemd/system/octofleet-worker@.service"
    wtext = open(worker, encoding="utf-8").read().splitlines() if os.path.isfile(worker) else []
    quoted = [l for l in m.group(1).splitlines() if l.strip()] if m else []
    check(quoted and all(l in wtext for l in quoted),
          "docs/configuration.md's systemd credentials example matches the shipped worker unit",
          "not in the unit: " + " | ".join(l for l in quoted if l not in wtext))

    runtime = containerfile_runtime_packages(a.source_dir)
    if runtime is None:
        record("FAIL", "no Containerfile at the top of the source tree")
    else:
        # libc6 is in every Debian image. A sanitizer build (OF_SANITIZE=ON, as CI's second
        # pass) links the ASan/UBSan runtimes; the image builds without them, so they are not
        # the Containerfile's to install.
        sanitizer = re.compile(r"^lib(asan|ubsan|lsan|tsan)\d*$")
        lacking = [d for d in depends
                   if d != "libc6" and d not in runtime and not sanitizer.match(d)]
        check(not lacking, "the Containerfile's runtime stage installs every Depends of the .deb",
              "lacking " + " ".join(lacking))
    return deb


# --- 4. Kubernetes manifests -------------------------------------------------------------------

def kubernetes_validate_tool(a):
    """Path of a kubernetes-validate executable, installing it into a cached venv if need be;
    (None, reason) when it cannot be had."""
    exe = shutil.which("kubernetes-validate")
    if exe:
        return exe, None
    cache = os.environ.get("OF_INSTALL_TEST_VENV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "octofleet", "kubernetes-validate-venv")
    # Run through the venv's python: the venv is built under a temporary name and renamed, so
    # its scripts' #! lines name a path that no longer exists.
    cached = [os.path.join(cache, "bin", "python"), "-m", "kubernetes_validate"]
    if os.path.isfile(os.path.join(cache, ".complete")):
        return cached, None
    if os.environ.get("OF_INSTALL_TEST_NO_PIP") == "1":
        return None, "kubernetes-validate is not installed and OF_INSTALL_TEST_NO_PIP=1"
    tmp = cache + ".tmp-%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    rc, out = run([sys.executable, "-m", "venv", tmp], timeout=120)
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        return None, ("python3 -m venv failed (Debian: python3-venv): " +
                      out.strip().splitlines()[-1] if out.strip() else "python3 -m venv failed")
    print("NOTE installing kubernetes-validate from PyPI into %s (once)" % cache, flush=True)
    rc, out = run([tmp + "/bin/pip", "install", "-q", "--disable-pip-version-check",
                   "kubernetes-validate==1.37.0"], timeout=240)
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        last = out.strip().splitlines()[-1] if out.strip() else "no output"
        return None, "pip install kubernetes-validate failed: " + last
    open(os.path.join(tmp, ".complete"), "w").close()
    shutil.rmtree(cache, ignore_errors=True)
    os.rename(tmp, cache)
    return cached, None


def yaml_documents(text):
    """The documents of a multi-document YAML file, as text (no YAML reader in the standard
    library; the checks below read the layout our manifests are written in)."""
    return [d for d in re.split(r"^---\s*$", text, flags=re.M) if re.search(r"^kind:", d, re.M)]


def configmap_config(text):
    """The octofleet.cfg of the manifest's ConfigMap, dedented, or None."""
    m = re.search(r"^  octofleet\.cfg: \|\n((?:    .*\n|\s*\n)+)", text, re.M)
    return "\n".join(l[4:] for l in m.group(1).splitlines()) + "\n" if m else None


def check_manifest_operations(a, path):
    """The producer and worker pods: probes on /readyz and /healthz through the port named
    metrics, that port where the ConfigMap's <daemon>.metrics_listen listens and where the
    prometheus.io/port annotation points, resources, the restricted security context, and the
    API key only as a file from the octofleet-octopus-api-key Secret. Then the ConfigMap's
    config itself loads (--dump-config) when this build knows metrics_listen."""
    name = os.path.basename(path)
    text = open(path, encoding="utf-8").read()
    cfg = configmap_config(text)
    if not check(cfg is not None, "%s: a ConfigMap with octofleet.cfg" % name):
        return
    key_file = re.search(r'api_key_file\s*=\s*"([^"]+)"', cfg)
    for doc in yaml_documents(text):
        kind = re.search(r"^kind:\s*(\S+)", doc, re.M).group(1)
        if kind not in ("Deployment", "StatefulSet"):
            continue
        daemon = re.search(r'^\s*args:\s*\[\s*"([a-z]+)"', doc, re.M).group(1)
        what = "%s: %s %s" % (name, kind, daemon)
        listen = re.search(r"^%s = \{.*?^\s*metrics_listen = \"[^\"]*:(\d+)\";.*?^\};" % daemon,
                           cfg, re.M | re.S)
        port = re.search(r"\{name: metrics, containerPort: (\d+)", doc)
        annotation = re.search(r'prometheus\.io/port: "(\d+)"', doc)
        check(listen and port and annotation
              and listen.group(1) == port.group(1) == annotation.group(1)
              and 'prometheus.io/scrape: "true"' in doc,
              "%s: %s.metrics_listen, the port named metrics and prometheus.io/port agree" %
              (what, daemon), "listen %s port %s annotation %s" % (
                  listen and listen.group(1), port and port.group(1),
                  annotation and annotation.group(1)))
        probes = {p: re.search(r"^\s*%s:\n\s*httpGet: \{path: (\S+), port: metrics\}" % p, doc,
                               re.M) for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        check(all(probes.values()) and probes["readinessProbe"].group(1) == "/readyz"
              and probes["livenessProbe"].group(1) == "/healthz",
              "%s: readiness on /readyz, liveness and start-up on /healthz" % what)
        check(re.search(r"requests: \{cpu: \S+, memory: \S+\}", doc) is not None
              and re.search(r"limits: \{.*memory: \S+\}", doc) is not None,
              "%s: resource requests and a memory limit" % what)
        wanted = ["runAsNonRoot: true", "readOnlyRootFilesystem: true", 'drop: ["ALL"]',
                  "allowPrivilegeEscalation: false", "seccompProfile: {type: RuntimeDefault}",
                  "fsGroup: 10001", "automountServiceAccountToken: false"]
        check(all(w in doc for w in wanted), "%s: restricted security context" % what,
              "missing: " + ", ".join(w for w in wanted if w not in doc))
        mount = re.search(r"\{name: api-key, mountPath: (\S+), readOnly: true\}", doc)
        check(mount and key_file and key_file.group(1) == mount.group(1) + "/api-key"
              and "secretName: octofleet-octopus-api-key" in doc
              and not re.search(r"OCTOPUS_API_KEY|secretKeyRef", doc),
              "%s: the API key is a file from the Secret octofleet-octopus-api-key "
              "(octopus.api_key_file), not an environment variable" % what)

    # The config itself, as the daemons would read it (the key file is only read at start).
    octofleet = os.path.join(a.build_dir, "bin", "octofleet")
    rc, out = run([octofleet, "producer", "-c",
                   os.path.join(a.source_dir, "config", "octofleet.cfg.example"),
                   "--dump-config"], timeout=30)
    if "metrics_listen" not in out:
        record("NOTE", "%s: this build has no metrics_listen key: the ConfigMap's config is "
               "loaded without its metrics_listen lines" % name)
        cfg = re.sub(r"^\s*metrics_listen = .*\n", "", cfg, flags=re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
        f.write(cfg)
    try:
        for daemon in ("producer", "worker"):
            rc, out = run([octofleet, daemon, "-c", f.name, "--dump-config"], timeout=30)
            check(rc == 0, "%s: the ConfigMap's octofleet.cfg loads (%s --dump-config)" %
                  (name, daemon), out[-800:])
    finally:
        os.unlink(f.name)


def test_manifests(a):
    kdir = os.path.join(a.source_dir, "deploy", "kubernetes")
    manifests = sorted(os.path.join(kdir, f) for f in os.listdir(kdir)
                       if f.endswith((".yaml", ".yml")))
    # Always: the containers run our image with the Containerfile's ENTRYPOINT (octofleet), so
    # args start with the daemon's command and no manifest overrides command:.
    for m in manifests:
        text = open(m, encoding="utf-8").read()
        images = re.findall(r"^\s*image:\s*(\S+)", text, re.M)
        argv = re.findall(r"^\s*args:\s*\[\s*\"?([a-z-]+)", text, re.M)
        check(images and all(re.match(r"^(\S+/)?octofleet:", i) for i in images)
              and not re.search(r"^\s*command:", text, re.M)
              and argv and all(c in ("producer", "worker") for c in argv),
              "%s: containers run the octofleet image's ENTRYPOINT with producer/worker args"
              % os.path.basename(m), "images %s args %s" % (images, argv))

    for m in manifests:
        check_manifest_operations(a, m)

    tool, why = kubernetes_validate_tool(a)
    if tool is None:
        msg = ("Kubernetes manifests NOT validated against the Kubernetes schemas: %s "
               "(only image/args were checked)" % why)
        if os.environ.get("OF_INSTALL_TEST_REQUIRE_MANIFESTS") == "1":
            record("FAIL", msg)
        else:
            record("NOTE", msg)
        return
    argv = tool if isinstance(tool, list) else [tool]
    rc, out = run(argv + ["--strict"] + manifests, timeout=120)
    passed = re.findall(r"passed for resource (\S+)", out)
    unknown = re.findall(r"Couldn't find schema for kind (\S+) with api version (\S+)", out)
    check(rc == 0 and passed and "FAIL" not in out.upper().replace("FAILURES", ""),
          "kubernetes-validate --strict (Kubernetes 1.37 schemas): %s" % ", ".join(passed), out)
    for kind, api in unknown:
        record("NOTE", "%s (%s) NOT validated: kubernetes-validate has no schema for this "
               "custom resource" % (kind, api))


# --- 5. the container image --------------------------------------------------------------------

def test_image(a, work):
    if os.environ.get("OF_INSTALL_TEST_IMAGE") == "0":
        record("SKIP", "container image not built: OF_INSTALL_TEST_IMAGE=0")
        return
    reasons = []
    for tool in ("podman", "docker"):
        exe = shutil.which(tool)
        if not exe:
            reasons.append("%s is not installed" % tool)
            continue
        rc, out = run([exe, "info"], timeout=30)
        if rc != 0:
            last = [l for l in out.strip().splitlines() if l.strip()][-1:] or ["no output"]
            reasons.append("%s cannot build here (%s info: %s)" % (tool, tool, last[0].strip()))
            continue
        rc, _ = run([exe, "image", "inspect", "docker.io/library/debian:12"], timeout=30)
        if rc != 0:
            rc, out = run([exe, "pull", "docker.io/library/debian:12"], timeout=180)
            if rc != 0:
                last = [l for l in out.strip().splitlines() if l.strip()][-1:] or ["no output"]
                reasons.append("%s cannot get the base image debian:12 (%s)" %
                               (tool, last[0].strip()))
                continue
        tag = "localhost/octofleet:install-test"
        print("NOTE building the image with %s (compiles octofleet; minutes)" % tool, flush=True)
        rc, out = run([exe, "build", "-f", os.path.join(a.source_dir, "Containerfile"), "-t", tag,
                       a.source_dir], timeout=1500)
        if not check(rc == 0, "%s build -f Containerfile" % tool, out[-3000:]):
            return
        rc, out = run([exe, "run", "--rm", tag, "--version"], timeout=60)
        check(rc == 0 and "octofleet" in out, "the image runs octofleet --version", out)
        rc, out = run([exe, "run", "--rm", tag], timeout=60)
        check(rc == 0 and out.startswith("usage:"), "the image's default command is --help", out)
        rc, out = run([exe, "run", "--rm", "--entrypoint", "id", tag, "-un"], timeout=60)
        check(rc == 0 and out.strip() == "octofleet", "the image runs as the octofleet user", out)
        run([exe, "rmi", tag], timeout=60)
        return
    record("SKIP", "container image NOT built: " + "; ".join(reasons))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--cmake", default="cmake")
    ap.add_argument("--cpack", default="cpack")
    a = ap.parse_args()
    a.build_dir = os.path.abspath(a.build_dir)
    a.source_dir = os.path.abspath(a.source_dir)
    version = project_version(a.source_dir)
    start = time.monotonic()

    work = tempfile.mkdtemp(prefix="octofleet-install-test.")
    try:
        test_destdir(a, work, version)
        test_systemd_verify(a, work)
        test_deb(a, work, version)
        test_manifests(a)
        test_image(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    failed = [w for s, w in RESULTS if s == "FAIL"]
    print("\n== install test summary (%.0fs)" % (time.monotonic() - start))
    for s, w in RESULTS:
        if s in ("FAIL", "SKIP", "NOTE"):
            print("%-4s %s" % (s, w))
    npass = sum(1 for s, _ in RESULTS if s == "PASS")
    nskip = sum(1 for s, _ in RESULTS if s == "SKIP")
    print("install: %d passed, %d failed, %d skipped" % (npass, len(failed), nskip))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
