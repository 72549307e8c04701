"""dsguard policy as a command: --help and every example it and README give
work as written, short options read as getopt reads them, what the policies
cannot express is refused with exit 2 and a message saying why (and nothing
on standard output), and the objects follow the config: which rules, which
answers, which namespaces."""
import os
import re
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap, run  # noqa: E402

CONFIG = os.path.join(ROOT, "examples", "admission", "config.yaml")


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d]


def refused(t, args, says, name, cwd=None):
    p = run(["policy"] + args, cwd=cwd)
    t.ok(p.returncode == 2 and all(s in p.stderr for s in says) and p.stdout == "",
         f"{name}: exit 2, saying {says}", f"exit {p.returncode}\nstderr: {p.stderr}\nstdout: {p.stdout[:200]}")


def shell_lines(block):
    """The commands of a ```sh block, continuation lines joined."""
    return [c.strip() for c in block.replace("\\\n", " ").split("\n") if c.strip() and not c.startswith("#")]


def run_shell(command, tmp):
    """Runs a documented command in tmp, where ./dsguard is the binary under
    test and examples/ the repository's."""
    for link, target in (("dsguard", BIN), ("examples", os.path.join(ROOT, "examples"))):
        if not os.path.lexists(os.path.join(tmp, link)):
            os.symlink(target, os.path.join(tmp, link))
    env = dict(os.environ, PATH=f"{tmp}:{os.environ.get('PATH', '')}")
    return subprocess.run(["sh", "-c", command], cwd=tmp, env=env, capture_output=True, text=True, timeout=60)


def check_examples(t):
    """Every example of --help and of README's policy section runs, and
    what it writes is admission policies."""
    helptext = run(["policy", "--help"]).stdout
    examples = [l.strip() for l in helptext.split("Examples:\n", 1)[-1].splitlines() if l.strip()]
    readme = open(os.path.join(ROOT, "README.md")).read()
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "dsguard policy" in b]
    t.ok(examples and blocks, "--help and README show dsguard policy examples")
    for source, commands in (("--help", examples), ("README", [c for b in blocks for c in shell_lines(b)])):
        for command in commands:
            with tempfile.TemporaryDirectory(prefix="dsguard-policy-example-") as tmp:
                with open(os.path.join(tmp, "dsguard.yaml"), "w") as f:
                    f.write(open(CONFIG).read())
                # A cluster is not at hand: what is piped to kubectl is read here.
                shown = command.split(" | kubectl")[0]
                p = run_shell(shown, tmp)
                out = p.stdout
                m = re.search(r">\s*(\S+)\s*$", shown)
                if m and os.path.exists(os.path.join(tmp, m.group(1))):
                    out = open(os.path.join(tmp, m.group(1))).read()
                kinds = {d["kind"] for d in docs_of(out)} if p.returncode == 0 else set()
                t.ok(p.returncode == 0 and "ValidatingAdmissionPolicy" in kinds,
                     f"{source} example works as written: {command}", p.stderr)


def outcome(args):
    """Exit status, output without the header's command line, errors."""
    p = run(args)
    return p.returncode, re.sub(r"^#   dsguard policy .*\n", "", p.stdout, flags=re.M), p.stderr


def check_short_options(t):
    """-cFILE, -c FILE and --config=FILE mean the same; -m groups."""
    help_text = run(["policy", "--help"]).stdout
    shorts = re.findall(r"^\s+-(\w), --([a-z-]+)(?: ([A-Z]+))?", help_text, re.M)
    values = {"FILE": CONFIG, "VERSION": "1.34"}
    for letter, long_name, meta in shorts:
        if letter == "h" or not meta:
            continue
        base = ["policy", "--mutating"] if meta == "VERSION" else ["policy"]
        long_form = outcome(base + [f"--{long_name}={values[meta]}", "--priority-class", "x"])
        for args in ([f"-{letter}{values[meta]}"], [f"-{letter}", values[meta]]):
            got = outcome(base + args + ["--priority-class", "x"])
            t.ok(got == long_form and got[0] == 0, f"policy {' '.join(args)} means --{long_name}={meta}", got[2])
    grouped = outcome(["policy", "-mk1.34", "--priority-class", "x"])
    spelled = outcome(["policy", "--mutating", "--kube-version", "1.34", "--priority-class", "x"])
    t.ok(grouped == spelled and "v1beta1" in grouped[1], "policy -mk1.34 means -m -k 1.34", grouped[2])


def check_refusals(t):
    refused(t, ["--kube-version", "1.29"], ["ValidatingAdmissionPolicy v1 needs Kubernetes 1.30"], "1.29")
    refused(t, ["--kube-version", "v1.25.3"], ["needs Kubernetes 1.30"], "1.25")
    for v in ("1.30", "1.31"):
        refused(t, ["--kube-version", v, "--mutating", "--config", CONFIG], ["--mutating needs Kubernetes 1.32"],
                f"--mutating with {v}")
    refused(t, ["--mutating"], ["1.32"], "--mutating with the default version (1.30)")
    refused(t, ["--kube-version", "1.34", "--mutating"], ["DS001 priority-class cannot be patched",
                                                          "rules.priority-class.default"],
            "--mutating without a default class")
    with tempfile.TemporaryDirectory(prefix="dsguard-policy-cli-") as tmp:
        audit = os.path.join(tmp, "audit.yaml")
        with open(audit, "w") as f:
            f.write("enforce: false\nrules:\n  priority-class:\n    default: a\n")
        refused(t, ["--kube-version", "1.34", "--mutating", "--config", audit], ["no rule is to be patched"],
                "--mutating where nothing is enforced")
        allowed = os.path.join(tmp, "allowed.yaml")
        with open(allowed, "w") as f:
            f.write("rules:\n  priority-class:\n    allowed: [a]\n")
        refused(t, ["--config", allowed, "--priority-class", "b"], ["not one of the allowed classes"],
                "--priority-class outside allowed")
        # The config is read only when named: not .dsguard.yaml of the current directory.
        with open(os.path.join(tmp, ".dsguard.yaml"), "w") as f:
            f.write("rules:\n  priority-class:\n    severity: off\n")
        p = run(["policy"], cwd=tmp)
        t.ok(p.returncode == 0 and "dsguard-ds001-priority-class" in p.stdout and "Config: defaults" in p.stdout,
             "policy does not read .dsguard.yaml by itself", p.stderr)
    refused(t, ["--kube-version", "1.x"], ["is not a Kubernetes version"], "a version that is none")
    refused(t, ["--name-prefix", "Team_"], ["does not make a valid object name"], "an invalid name prefix")
    refused(t, ["--namespace-selector", "a in b"], ["--namespace-selector", "parentheses"], "a selector without ()")
    refused(t, ["--object-selector", "!a=b"], ["--object-selector", "takes no value"], "an object selector !a=b")
    refused(t, ["extra"], ["takes no arguments"], "an operand")
    refused(t, ["--config", "/nonexistent/dsguard.yaml"], ["/nonexistent/dsguard.yaml"], "a config that is not there")


def objects(args):
    p = run(["policy"] + args)
    return {(d["kind"], d["metadata"]["name"]): d for d in docs_of(p.stdout)}


def check_config_follows(t):
    """Which policies a config makes, and their answers, selectors, params."""
    with tempfile.TemporaryDirectory(prefix="dsguard-policy-cfg-") as tmp:
        def cfg(text):
            path = os.path.join(tmp, f"c{len(os.listdir(tmp))}.yaml")
            with open(path, "w") as f:
                f.write(text)
            return ["--config", path]

        o = objects([])
        vapb = lambda n: o[("ValidatingAdmissionPolicyBinding", n)]["spec"]  # noqa: E731
        t.eq(vapb("dsguard-ds001-priority-class")["validationActions"], ["Deny"], "error: [Deny]")
        t.eq(vapb("dsguard-ds001-priority-class-warn")["validationActions"], ["Warn", "Audit"],
             "beside it, [Warn, Audit] for exemptions and updates that keep the template")
        t.ok(not any("ds002" in n for _, n in o), "DS002: no validating policy (the API server refuses it itself)")
        ds003 = o[("ValidatingAdmissionPolicy", "dsguard-ds003-dedicated-namespace")]["spec"]
        t.eq((ds003["paramKind"], ds003["matchConstraints"]["resourceRules"][0]["operations"]),
             ({"apiVersion": "apps/v1", "kind": "DaemonSet"}, ["CREATE"]), "DS003: params are DaemonSets, on CREATE")
        t.eq(vapb("dsguard-ds003-dedicated-namespace")["paramRef"], {"selector": {}, "parameterNotFoundAction": "Allow"},
             "DS003: every DaemonSet of the request's namespace, none found: allowed")
        t.ok(any(c["name"] == "not-exempted" for c in
                 o[("ValidatingAdmissionPolicy", "dsguard-ds001-priority-class")]["spec"]["matchConditions"]),
             "the exemption annotation is a matchCondition")

        o = objects(cfg("rules:\n  priority-class: {severity: warning}\n  dedicated-namespace:\n"
                        "    severity: off\n    exemptNamespaces: [kube-system]\n"))
        t.eq(sorted(n for k, n in o if k == "ValidatingAdmissionPolicyBinding"), ["dsguard-ds001-priority-class"],
             "warning: one policy; off: none")
        t.eq(o[("ValidatingAdmissionPolicyBinding", "dsguard-ds001-priority-class")]["spec"]["validationActions"],
             ["Warn", "Audit"], "warning: [Warn, Audit]")
        o = objects(cfg("enforce: false\n"))
        t.ok(all(d["spec"]["validationActions"] == ["Warn", "Audit"] for (k, _), d in o.items()
                 if k == "ValidatingAdmissionPolicyBinding"), "enforce: false: [Warn, Audit] everywhere")
        o = objects(cfg("allowExemptionAnnotation: false\n"))
        t.ok("dsguard.io/ignore" not in yaml.safe_dump(list(o.values())),
             "allowExemptionAnnotation: false: the annotation is read nowhere")
        t.ok(("ValidatingAdmissionPolicy", "dsguard-ds003-dedicated-namespace-warn") not in o,
             "allowExemptionAnnotation: false: DS003 has nothing to warn about")
        o = objects(cfg("rules:\n  dedicated-namespace: {exemptNamespaces: [kube-system, infra]}\n")
                    + ["--namespace-selector", "env in (prod)", "--namespace-selector", "!legacy"])
        t.eq(o[("ValidatingAdmissionPolicyBinding", "dsguard-ds003-dedicated-namespace")]["spec"]["matchResources"],
             {"namespaceSelector": {"matchExpressions": [
                 {"key": "env", "operator": "In", "values": ["prod"]},
                 {"key": "legacy", "operator": "DoesNotExist"},
                 {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "infra"]}]}},
             "DS003's binding: the --namespace-selector and exemptNamespaces as NotIn")
        t.eq(o[("ValidatingAdmissionPolicyBinding", "dsguard-ds001-priority-class")]["spec"]["matchResources"],
             {"namespaceSelector": {"matchExpressions": [
                 {"key": "env", "operator": "In", "values": ["prod"]},
                 {"key": "legacy", "operator": "DoesNotExist"}]}},
             "DS001's binding: the --namespace-selector alone")
        o = objects(["--object-selector", "app.kubernetes.io/managed-by notin (vendor)", "--object-selector", "tier"])
        want = {"objectSelector": {"matchExpressions": [
            {"key": "app.kubernetes.io/managed-by", "operator": "NotIn", "values": ["vendor"]},
            {"key": "tier", "operator": "Exists"}]}}
        t.ok(all(d["spec"].get("matchResources") == want for (k, _), d in o.items() if k.endswith("Binding")),
             "--object-selector: every binding matches only the DaemonSets whose labels match")
        o = objects(["--kube-version", "1.32", "--mutating", "--config", CONFIG, "--name-prefix", "p."])
        m = o[("MutatingAdmissionPolicy", "p.ds001-priority-class")]
        t.eq((m["apiVersion"], m["spec"]["reinvocationPolicy"], m["spec"]["failurePolicy"],
              m["spec"]["mutations"][0]["patchType"]),
             ("admissionregistration.k8s.io/v1alpha1", "IfNeeded", "Fail", "JSONPatch"),
             "--mutating 1.32: v1alpha1, IfNeeded, Fail, JSONPatch; names start with the prefix")
        t.ok("'node-agents'" in m["spec"]["mutations"][0]["jsonPatch"]["expression"],
             "the mutating policy patches in the config's default class")


def main():
    t = Tap()
    p = run(["policy", "--help"])
    t.ok(p.returncode == 0 and p.stdout.startswith("Usage: dsguard policy") and "--kube-version" in p.stdout
         and "--mutating" in p.stdout and "--namespace-selector" in p.stdout and "--object-selector" in p.stdout and "--name-prefix" in p.stdout,
         "policy --help lists its options", p.stdout + p.stderr)
    t.ok("policy" in run(["--help"]).stdout, "dsguard --help lists policy")
    check_examples(t)
    check_short_options(t)
    check_refusals(t)
    check_config_follows(t)
    t.done()


if __name__ == "__main__":
    main()
