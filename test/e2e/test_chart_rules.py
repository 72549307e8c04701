#!/usr/bin/env python3
"""The chart's config.rules against the real rule table. Every rule and every
option that `dsguard rules --format json` lists is set through `helm template
--set config.rules.NAME.KEY=...`; the config.yaml of the rendered ConfigMap
must hold exactly what was set and load in dsguard. Each severity comes
through (an unquoted off too); values that YAML 1.1 would read as something
else stay strings; an empty string and null mean none and are left out; of a
rule set by id and by name, the name's settings apply. An unknown option or
rule passes the chart (it cannot know every key) and dsguard refuses it,
naming the file, line and key.

helm is fetched by test/chart/get-helm.sh, as in test_chart.py: a missing helm
is a failure, never a skip."""
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Tap, run  # noqa: E402
from test_chart import CHART, get_helm, helm_run  # noqa: E402

# Two DaemonSets in one namespace, without a priority class, restarting
# OnFailure: they break DS001 (no priorityClassName), DS002 (restartPolicy
# is not Always) and DS003 (the namespace is shared), each once per DaemonSet.
MANIFEST = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent-a, namespace: shared}
spec:
  selector: {matchLabels: {app: agent-a}}
  template:
    metadata: {labels: {app: agent-a}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: agent, image: example/agent-a}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent-b, namespace: shared}
spec:
  selector: {matchLabels: {app: agent-b}}
  template:
    metadata: {labels: {app: agent-b}}
    spec:
      restartPolicy: OnFailure
      containers: [{name: agent, image: example/agent-b}]
"""
BROKEN = {"DS001", "DS002", "DS003"}

# Strings YAML 1.1 reads as a boolean, null, a number or an octal when they
# stand unquoted.
LOOKALIKES = ["off", "null", "~", "0755", "1e3", "yes"]


def rule_table():
    """The rules as `dsguard rules --format json` lists them."""
    p = run(["rules", "--format", "json"])
    return json.loads(p.stdout)["rules"] if p.returncode == 0 else []


def config_of(rendered):
    """(config.yaml text of the rendered ConfigMap, or None, and why not)."""
    try:
        objs = [o for o in yaml.safe_load_all(rendered) if o]
    except yaml.YAMLError as e:
        return None, f"helm's output is not YAML: {e}"
    cms = [o for o in objs if o.get("kind") == "ConfigMap" and "config.yaml" in (o.get("data") or {})]
    if len(cms) != 1:
        return None, f"{len(cms)} ConfigMaps hold config.yaml"
    return cms[0]["data"]["config.yaml"], ""


class Case:
    """One `helm template` of the chart with some --set arguments, and what
    its config.yaml must say."""

    def __init__(self, name, args, want=None, values=None):
        self.name, self.args, self.want, self.values = name, args, want, values
        self.rc, self.text, self.err = None, None, ""

    def render(self, helm, tmp):
        args = ["template", "dsguard", CHART, "--namespace", "dsguard-system",
                "--show-only", "templates/configmap.yaml"] + self.args
        if self.values is not None:
            path = os.path.join(tmp, self.name.replace(" ", "-") + ".values.yaml")
            with open(path, "w") as f:
                f.write(self.values)
            args += ["-f", path]
        self.rc, out, err = helm_run(helm, args)
        self.text, why = config_of(out) if self.rc == 0 else (None, "")
        self.err = err[-1500:] + why
        return self


def lint(tmp, name, text):
    """dsguard lint --format json over MANIFEST with `text` as its config
    file; returns (the config file's path, the CompletedProcess, the report
    or None)."""
    cfg = os.path.join(tmp, name.replace(" ", "-") + ".config.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    manifest = os.path.join(tmp, "agents.yaml")
    with open(manifest, "w") as f:
        f.write(MANIFEST)
    p = run(["lint", "--format", "json", "--config", cfg, manifest])
    try:
        report = json.loads(p.stdout)
    except ValueError:
        report = None
    return cfg, p, report


def check_loads(t, tmp, case, parsed):
    """The rendered config says case.want and dsguard loads it."""
    t.eq(parsed, case.want, f"{case.name}: config.yaml holds exactly what was set")
    _, p, report = lint(tmp, case.name, case.text)
    t.ok(p.returncode in (0, 1) and report is not None and not report.get("errors"),
         f"{case.name}: dsguard loads the rendered config", f"exit {p.returncode}\n{p.stderr[-800:]}")


def main():
    t = Tap()
    rules = rule_table()
    if not t.ok(rules, "dsguard rules --format json lists the rules"):
        t.done()
    helm, err = get_helm()
    if not t.ok(helm is not None, "helm is available (test/chart/get-helm.sh)", err):
        t.done()
    names = [r["name"] for r in rules]
    options = [(r["name"], o["key"], o["type"]) for r in rules for o in r["options"]]
    t.ok(all(ty in ("string", "list") for _, _, ty in options),
         "every option is a name or a list of names, the two kinds the chart renders", str(options))

    base = {"enforce": True, "allowExemptionAnnotation": True}
    cases = []

    # Every option of every rule, each with a value of its own; every name
    # value is also in every list, so an option that must be one of a list
    # (priority-class's default, one of allowed) is.
    singles = {(n, k): f"{n}-{k}".lower() for n, k, ty in options if ty == "string"}
    lists = {(n, k): [f"{n}-{k}-first".lower()] + sorted(singles.values()) for n, k, ty in options if ty == "list"}
    args, want = [], {n: {"severity": "warning"} for n in names}
    for n in names:
        args += ["--set", f"config.rules.{n}.severity=warning"]
    for (n, k), v in singles.items():
        args += ["--set-string", f"config.rules.{n}.{k}={v}"]
        want[n][k] = v
    for (n, k), v in lists.items():
        args += ["--set-string", f"config.rules.{n}.{k}={{{','.join(v)}}}"]
        want[n][k] = v
    cases.append(Case("every option set", args, dict(base, rules=want)))

    # Values YAML 1.1 would read as something else unquoted.
    args, want = [], {n: {"severity": "error"} for n in names}
    for n in names:
        args += ["--set", f"config.rules.{n}.severity=error"]
    for i, (n, k) in enumerate(singles):
        args += ["--set-string", f"config.rules.{n}.{k}={LOOKALIKES[i % len(LOOKALIKES)]}"]
        want[n][k] = LOOKALIKES[i % len(LOOKALIKES)]
    for n, k in lists:
        args += ["--set-string", f"config.rules.{n}.{k}={{{','.join(LOOKALIKES)}}}"]
        want[n][k] = LOOKALIKES
    cases.append(Case("values that look like booleans, null or numbers", args, dict(base, rules=want)))

    # None: an empty name and a null are left out, an empty list stays [];
    # a rule with nothing set is an empty mapping.
    args, want = [], {n: {} for n in names}
    for n in names:
        args += ["--set", f"config.rules.{n}.severity=null"]
    for n, k in singles:
        args += ["--set-string", f"config.rules.{n}.{k}="]
    for n, k in lists:
        args += ["--set-json", f"config.rules.{n}.{k}=[]"]
        want[n][k] = []
    cases.append(Case("empty names, empty lists and null severities", args, dict(base, rules=want)))

    # Each severity, for every rule at once; off also as a boolean (--set
    # severity=false) and as an unquoted off in a values file (YAML 1.1
    # reads it as false).
    sev_cases = []
    for sev, how in (("error", "error"), ("warning", "warning"), ("off", "off"), ("off", "false")):
        args = []
        for n in names:
            args += ["--set", f"config.rules.{n}.severity={how}"]
        sev_cases.append((sev, Case(f"severity {how} for every rule", args)))
    values = "config:\n  rules:\n" + "".join(f"    {n}:\n      severity: off\n" for n in names)
    sev_cases.append(("off", Case("severity: off unquoted in a values file", [], values=values)))

    # A rule set by id and by name: the chart renders both (ids sort before
    # names), and dsguard applies the later one, the name's.
    by_id = Case("a rule set by id and by name", ["--set", f"config.rules.{rules[0]['id']}.severity=off",
                                                  "--set", f"config.rules.{names[0]}.severity=warning"])

    # Keys the chart cannot know: it renders them, dsguard refuses them.
    first = names[0]
    unknown_key = Case("an unknown option", ["--set-string", f"config.rules.{first}.colour=blue"])
    unknown_rule = Case("an unknown rule", ["--set-string", "config.rules.no-such-rule.severity=error"])

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=4) as pool:
        every = cases + [c for _, c in sev_cases] + [by_id, unknown_key, unknown_rule]
        for c in pool.map(lambda c: c.render(helm, tmp), every):
            t.ok(c.rc == 0 and c.text is not None, f"{c.name}: helm template renders the config", c.err)

        for c in cases:
            if c.text is not None:
                check_loads(t, tmp, c, yaml.safe_load(c.text))

        for sev, c in sev_cases:
            if c.text is None:
                continue
            parsed = yaml.safe_load(c.text)
            got = {n: (parsed.get("rules") or {}).get(n, {}).get("severity") for n in names}
            t.eq(got, {n: sev for n in names}, f"{c.name}: config.yaml sets severity {sev}")
            _, p, report = lint(tmp, c.name, c.text)
            found = (report or {}).get("findings", [])
            if sev == "off":
                t.ok(p.returncode == 0 and report is not None and found == [],
                     f"{c.name}: dsguard loads it and runs no rule", f"exit {p.returncode}\n{p.stderr[-800:]}")
            else:
                t.ok(p.returncode == (1 if sev == "error" else 0) and report is not None
                     and BROKEN <= {f["rule"] for f in found} and all(f["severity"] == sev for f in found),
                     f"{c.name}: dsguard loads it and every finding is at {sev}",
                     f"exit {p.returncode}\n{p.stderr[-800:]}\n{json.dumps(found)[:1500]}")

        if by_id.text is not None:
            _, p, report = lint(tmp, by_id.name, by_id.text)
            found = [f["severity"] for f in (report or {}).get("findings", []) if f["rule"] == rules[0]["id"]]
            t.ok(p.returncode in (0, 1) and found and set(found) == {"warning"},
                 f"{by_id.name}: the name's setting applies ({rules[0]['id']} findings at warning)",
                 f"exit {p.returncode}\n{p.stderr[-800:]}\n{found}\n{by_id.text}")

        for c, word, what in ((unknown_key, "colour", f'unknown key "colour" in rules.{first}'),
                              (unknown_rule, "no-such-rule", 'unknown rule "no-such-rule"')):
            if c.text is None:
                continue
            lines = c.text.splitlines()
            at = [(i + 1, len(s) - len(s.lstrip()) + 1) for i, s in enumerate(lines)
                  if s.lstrip().startswith(word + ":")]
            cfg, p, _ = lint(tmp, c.name, c.text)
            where = f"{cfg}:{at[0][0]}:{at[0][1]}: " if len(at) == 1 else "(the key is not rendered once)"
            t.ok(p.returncode == 2 and where + what in p.stderr,
                 f"{c.name} passes the chart; dsguard refuses it naming the file, line and key",
                 f"want: {where}{what}\nexit {p.returncode}\n{p.stderr[-800:]}\n{c.text}")
    t.done()


if __name__ == "__main__":
    main()
