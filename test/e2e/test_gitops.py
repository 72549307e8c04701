"""The GitOps recipes of docs/gitops.md, run as written where they can run
here: the helm and kustomize pipes, the Argo CD plugin's generate command and
the PreSync kustomization; the pre-commit hook and the GitHub action are
checked for their keys, for flags that `dsguard lint --help` lists, and by
running the action's lint step. Positions are checked against PyYAML's
reading of the rendered output."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import BIN, ROOT, Tap, run, shared_dir  # noqa: E402
from test_lint_corpus import expected_position, yaml_daemonsets  # noqa: E402

DOC = os.path.join(ROOT, "docs", "gitops.md")
DS001 = "spec.template.spec.priorityClassName is not set [DS001 priority-class]"

BASE_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: fluentd
spec:
  selector: {matchLabels: {app: fluentd}}
  template:
    metadata: {labels: {app: fluentd}}
    spec:
      containers: [{name: fluentd, image: fluentd:v1}]
"""
CHART_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-agent
  namespace: {{ .Release.Namespace }}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      containers: [{name: agent, image: agent:v1}]
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def doc_blocks(lang):
    with open(DOC) as fh:
        return re.findall(r"```" + lang + r"\n(.*?)```", fh.read(), re.S)


def doc_file(name):
    """The YAML block of docs/gitops.md that starts with '# file: name'."""
    for block in doc_blocks("yaml"):
        if block.startswith(f"# file: {name}\n"):
            return block
    return None


def get_helm():
    p = subprocess.run(["sh", os.path.join(ROOT, "test", "chart", "get-helm.sh")], capture_output=True,
                       text=True, timeout=300)
    return p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else None


def lint_help_flags():
    """The long options and --format values that `dsguard lint --help` lists."""
    text = run(["lint", "--help"]).stdout
    flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", text, re.M))
    formats = set(re.search(r"--format FORMAT\s+output format: (.*)", text).group(1)
                  .replace("(default)", "").replace(" or ", ", ").replace(" ", "").split(","))
    return flags, formats


def check_lint_commands(t, text, where, help_flags):
    """Every `dsguard lint` command line in text uses only listed options."""
    flags, formats = help_flags
    found = 0
    for line in text.splitlines():
        m = re.search(r"dsguard\"? lint (.*)", line)
        if not m:
            continue
        found += 1
        used = set(re.findall(r"(--[a-z-]+)", m.group(1)))
        fmt = re.findall(r"--format (\w+)", m.group(1))
        t.ok(used <= flags and set(fmt) <= formats, f"{where}: dsguard lint options exist: {line.strip()[:70]}",
             f"unknown: {sorted(used - flags)} {sorted(set(fmt) - formats)}")
    return found


def make_bin(top, helm):
    """A directory for PATH with dsguard, helm, and kustomize (kubectl's)."""
    bindir = os.path.join(top, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.symlink(BIN, os.path.join(bindir, "dsguard"))
    if helm:
        os.symlink(helm, os.path.join(bindir, "helm"))
    write(os.path.join(bindir, "kustomize"), '#!/bin/sh\n[ "$1" = build ] && shift\nexec kubectl kustomize "$@"\n')
    os.chmod(os.path.join(bindir, "kustomize"), 0o755)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    return env


def make_sources(top):
    write(os.path.join(top, "base", "daemonset.yaml"), BASE_DS)
    write(os.path.join(top, "base", "kustomization.yaml"), "resources: [daemonset.yaml]\n")
    write(os.path.join(top, "overlays", "prod", "kustomization.yaml"),
          "resources: [../../base]\nnamespace: logging\nnamePrefix: prod-\n")
    write(os.path.join(top, "charts", "agent", "Chart.yaml"), "apiVersion: v2\nname: agent\nversion: 0.1.0\n")
    write(os.path.join(top, "charts", "agent", "values.yaml"), 'priorityClassName: ""\n')
    write(os.path.join(top, "charts", "agent", "templates", "daemonset.yaml"), CHART_DS)


def rendered_position(text, tmp):
    """(line, column) of DS001 in rendered text, by PyYAML, for its one DaemonSet."""
    with open(tmp, "w") as fh:
        fh.write(text)
    nodes = list(yaml_daemonsets(tmp).items())
    return nodes[0][0], expected_position(nodes[0][1], "DS001")


def check_pipe(t, top, env, command, render, name):
    """Runs a documented pipe as written; its report must name `name` and the
    DaemonSet at the position PyYAML finds in the same rendering."""
    p = subprocess.run(["sh", "-c", command], cwd=top, env=env, capture_output=True, text=True, timeout=120)
    rendered = subprocess.run(render, cwd=top, env=env, capture_output=True, text=True, timeout=120).stdout
    (ns, ds), (line, col) = rendered_position(rendered, os.path.join(top, "rendered.yaml"))
    want = f"{name}:{line}:{col}: error: DaemonSet {ns}/{ds}: {DS001}"
    t.eq((p.returncode, p.stdout.splitlines()[:1]), (1, [want]), f"recipe runs as written: {command}")


def test_pipes(t, top, env, helm):
    lines = [ln.strip() for b in doc_blocks("sh") for ln in b.splitlines()]
    kustomize = [ln for ln in lines if ln.startswith("kubectl kustomize ")]
    helm_cmds = [ln for ln in lines if ln.startswith("helm template ")]
    t.eq(kustomize, ["kubectl kustomize overlays/prod | dsguard lint --stdin-filename overlays/prod -"],
         "docs/gitops.md shows the kustomize pipe")
    t.eq(helm_cmds, ["helm template agent charts/agent | dsguard lint --stdin-filename charts/agent -"],
         "docs/gitops.md shows the helm pipe")
    for command in kustomize:
        check_pipe(t, top, env, command, ["kubectl", "kustomize", "overlays/prod"], "overlays/prod")
    if helm is None:
        t.skip("the helm recipe", "no helm (test/chart/get-helm.sh failed; set HELM_BIN)")
    else:
        for command in helm_cmds:
            check_pipe(t, top, env, command, ["helm", "template", "agent", "charts/agent"], "charts/agent")
        write(os.path.join(top, "charts", "agent", "values.yaml"), "priorityClassName: node-agents\n")
        p = subprocess.run(["sh", "-c", helm_cmds[0]], cwd=top, env=env, capture_output=True, text=True)
        t.eq(p.returncode, 0, "helm recipe: exit 0 once the chart sets a priority class")
    p = run(["lint", "charts/agent/templates/daemonset.yaml"], cwd=top)
    t.ok(p.returncode == 2 and "render it first" in p.stdout, "a template linted directly: exit 2, render hint",
         p.stdout)


def test_argocd_plugin(t, top, env):
    block = doc_file("plugin.yaml")
    if not t.ok(block is not None, "docs/gitops.md has the Argo CD plugin"):
        return
    plugin = yaml.safe_load(block)
    t.eq((plugin["apiVersion"], plugin["kind"]), ("argoproj.io/v1alpha1", "ConfigManagementPlugin"),
         "Argo CD plugin kind")
    argv = plugin["spec"]["generate"]["command"] + plugin["spec"]["generate"]["args"]
    app = os.path.join(top, "overlays", "prod")
    penv = dict(env, ARGOCD_APP_NAME="agents")
    p = subprocess.run(argv, cwd=app, env=penv, capture_output=True, text=True, timeout=120)
    t.ok(p.returncode != 0 and p.stdout == "" and f"DaemonSet logging/prod-fluentd: {DS001}" in p.stderr
         and p.stderr.startswith("agents:"), "Argo CD plugin: findings fail generation, report on stderr",
         f"rc={p.returncode}\n{p.stdout[:300]}\n{p.stderr}")
    write(os.path.join(app, ".dsguard.yaml"), "rules:\n  priority-class: {severity: warning}\n")
    p = subprocess.run(argv, cwd=app, env=penv, capture_output=True, text=True, timeout=120)
    want = subprocess.run(["kubectl", "kustomize", "."], cwd=app, capture_output=True, text=True).stdout
    t.ok(p.returncode == 0 and p.stdout == want, "Argo CD plugin: passing manifests come out unchanged "
         "(the app's .dsguard.yaml applies)", f"rc={p.returncode}\n{p.stderr}")
    os.unlink(os.path.join(app, ".dsguard.yaml"))


def test_presync(t, top):
    kust, job = doc_file("kustomization.yaml"), doc_file("dsguard-presync.yaml")
    if not t.ok(kust is not None and job is not None, "docs/gitops.md has the PreSync kustomization and Job"):
        return
    d = os.path.join(top, "presync")
    write(os.path.join(d, "kustomization.yaml"), kust)
    write(os.path.join(d, "dsguard-presync.yaml"), job)
    write(os.path.join(d, "daemonsets.yaml"), BASE_DS)
    p = subprocess.run(["kubectl", "kustomize", d], capture_output=True, text=True, timeout=60)
    objs = {o["kind"]: o for o in yaml.safe_load_all(p.stdout) if o}
    cm, jb = objs.get("ConfigMap"), objs.get("Job")
    if not t.ok(p.returncode == 0 and cm and jb, "PreSync kustomization renders a ConfigMap and a Job", p.stderr):
        return
    hook = "argocd.argoproj.io/hook"
    t.eq((cm["metadata"]["annotations"].get(hook), cm["metadata"]["annotations"].get("argocd.argoproj.io/sync-wave"),
          jb["metadata"]["annotations"].get(hook)), ("PreSync", "-1", "PreSync"),
         "PreSync: the ConfigMap is a hook of an earlier wave than the Job")
    pod = jb["spec"]["template"]["spec"]
    t.eq(pod["volumes"][0]["configMap"]["name"], cm["metadata"]["name"],
         "PreSync: the Job mounts the generated (hashed) ConfigMap")
    mounted = os.path.join(top, "mounted")
    for name, text in cm["data"].items():
        write(os.path.join(mounted, name), text)
    mount = pod["containers"][0]["volumeMounts"][0]["mountPath"]
    args = [mounted if a == mount else a for a in pod["containers"][0]["args"]]
    p = run(args, cwd=top)
    t.ok(p.returncode == 1 and f"mounted/daemonsets.yaml:9:5: error: DaemonSet default/fluentd: {DS001}"
         in p.stdout.replace(mounted, "mounted"), "PreSync: the Job's command fails on the finding", p.stdout)


def test_precommit(t, top, help_flags):
    with open(os.path.join(ROOT, ".pre-commit-hooks.yaml")) as fh:
        hooks = yaml.safe_load(fh)
    hook = hooks[0] if isinstance(hooks, list) and hooks else {}
    t.ok(all(k in hook for k in ("id", "name", "entry", "language")), "pre-commit hook has the required keys",
         hook)
    t.eq((hook.get("id"), hook.get("entry"), hook.get("language")), ("dsguard-lint", "dsguard lint", "system"),
         "pre-commit hook id, entry and language")
    pattern = re.compile(hook.get("files", "^$"))
    names = ["a.yaml", "deploy/b.yml", "c.json", "d.txt", "e.yaml.bak", "f.jsonl"]
    t.eq([n for n in names if pattern.search(n)], ["a.yaml", "deploy/b.yml", "c.json"],
         "pre-commit hook takes .yaml, .yml and .json files")
    user = yaml.safe_load(doc_file(".pre-commit-config.yaml") or "{}")
    ids = [h["id"] for r in user.get("repos", []) for h in r["hooks"]]
    t.eq(ids, ["dsguard-lint"], "docs/gitops.md's pre-commit config uses the hook")
    check_lint_commands(t, hook["entry"] + " " + " ".join(hook.get("args", [])), "pre-commit hook", help_flags)
    # As pre-commit runs it: entry, args, then the matching staged files.
    write(os.path.join(top, "staged", "ok.yaml"), BASE_DS.replace("    spec:\n", "    spec:\n"
                                                                  "      priorityClassName: node-agents\n"))
    write(os.path.join(top, "staged", "bad.yml"), BASE_DS)
    argv = shlex.split(hook["entry"])[1:] + hook.get("args", [])
    p = run(argv + ["staged/ok.yaml"], cwd=top)
    q = run(argv + ["staged/ok.yaml", "staged/bad.yml"], cwd=top)
    t.eq((p.returncode, q.returncode), (0, 1), "pre-commit hook: passes a clean file, fails a finding")


def action_steps():
    with open(os.path.join(ROOT, "action.yml")) as fh:
        return yaml.safe_load(fh)


def makefile_packages():
    """Debian packages of the libraries the binary links (Makefile's
    LIBS_PC through DEP_PKGS)."""
    with open(os.path.join(ROOT, "Makefile")) as fh:
        mk = fh.read().replace("\\\n", " ")
    deps = dict(d.split(":") for d in re.search(r"^DEP_PKGS\s*:=(.*)$", mk, re.M).group(1).split())
    return {deps[pc] for pc in re.search(r"^LIBS_PC\s*:=(.*)$", mk, re.M).group(1).split()}


def test_action(t, top, sarif_validator, help_flags):
    action = action_steps()
    t.ok(all(k in action for k in ("name", "description", "inputs", "runs")), "action.yml has the required keys")
    t.eq(sorted(action["inputs"]), ["config", "fail-on", "path"], "action inputs: path, config, fail-on")
    steps = action["runs"]["steps"]
    t.eq(action["runs"]["using"], "composite", "action.yml is a composite action")
    t.ok(all("shell" in s for s in steps if "run" in s), "every run step of the action names its shell")
    scripts = "\n".join(s.get("run", "") for s in steps)
    installed = set(re.findall(r"\blib[a-z0-9.+-]+-dev\b", scripts))
    t.ok(makefile_packages() <= installed, "the action installs every library package the Makefile needs",
         sorted(makefile_packages() - installed))
    t.ok(check_lint_commands(t, scripts, "action.yml", help_flags) == 1, "the action runs dsguard lint once")
    lint = next(s for s in steps if s.get("id") == "lint")
    used = set(re.findall(r"(--[a-z-]+)", lint["run"]))
    t.ok(used <= help_flags[0], "the options the lint step passes exist", sorted(used - help_flags[0]))
    t.ok("--format sarif" in scripts, "the action lints with --format sarif")
    upload = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    t.eq(len(upload), 1, "the action uploads with github/codeql-action/upload-sarif")
    t.ok("${{" not in lint["run"], "the lint step takes its inputs from env, not expressions in the script")
    run_action_lint(t, top, lint, sarif_validator)


def run_action_lint(t, top, step, sarif_validator):
    """The lint step's script under bash, as the runner would run it."""
    action_dir = os.path.join(top, "action")
    os.makedirs(action_dir, exist_ok=True)
    os.symlink(BIN, os.path.join(action_dir, "dsguard"))
    ws = os.path.join(top, "workspace")
    write(os.path.join(ws, "deploy", "ds.yaml"), BASE_DS)
    write(os.path.join(ws, "more", "other.yaml"), BASE_DS.replace("fluentd", "promtail"))
    write(os.path.join(ws, "ci", "dsguard.yaml"),
          "rules:\n" + "".join(f"  {r}: {{severity: warning}}\n"
                                for r in ("priority-class", "restart-policy", "dedicated-namespace")))
    out = os.path.join(top, "github_output")
    for fail_on, config, want in (("error", "", "1"), ("error", "ci/dsguard.yaml", "0"),
                                  ("warning", "ci/dsguard.yaml", "1")):
        open(out, "w").close()
        env = dict(os.environ, GITHUB_ACTION_PATH=action_dir, RUNNER_TEMP=top, GITHUB_OUTPUT=out,
                   DSGUARD_PATH="deploy/ more/other.yaml", DSGUARD_CONFIG=config, DSGUARD_FAIL_ON=fail_on)
        p = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=ws, env=env, capture_output=True, text=True)
        with open(out) as fh:
            outputs = dict(line.split("=", 1) for line in fh.read().splitlines())
        t.eq((p.returncode, outputs.get("exit-code")), (0, want),
             f"action lint step (fail-on {fail_on}, config {config or 'none'}): the step passes, "
             "exit-code is dsguard's")
    with open(outputs.get("sarif-file", os.devnull)) as fh:
        text = fh.read()
    log = json.loads(text) if text else {"runs": [{"results": []}]}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    t.eq(uris, {"deploy/ds.yaml", "more/other.yaml"}, "action: SARIF of both paths, relative to the workspace")
    if sarif_validator is not None:
        errors = [e.message for e in sarif_validator.iter_errors(log)]
        t.ok(not errors, "action: the SARIF it uploads validates against the 2.1.0 schema", "\n".join(errors))


def test_workflows(t, help_flags):
    with open(os.path.join(ROOT, "action.yml")) as fh:
        inputs = set(yaml.safe_load(fh)["inputs"])
    with open(os.path.join(ROOT, "examples", "github-workflow.yml")) as fh:
        text = fh.read()
    wf = yaml.safe_load(text)
    t.eq(wf.get("permissions", {}).get("security-events"), "write", "example workflow may upload SARIF")
    uses = [s for j in wf["jobs"].values() for s in j["steps"] if s.get("uses", "").startswith("dsguard/dsguard@")]
    t.ok(uses and all(set(s.get("with", {})) <= inputs for s in uses), "example workflow uses the action's inputs")
    check_lint_commands(t, text, "examples/github-workflow.yml", help_flags)
    for block in doc_blocks("yaml"):
        try:
            yaml.safe_load(block)
            ok, err = True, ""
        except yaml.YAMLError as e:
            ok, err = False, str(e)
        t.ok(ok, f"docs/gitops.md YAML block parses: {block.splitlines()[0][:50]}", err)
    with open(DOC) as fh:
        check_lint_commands(t, fh.read(), "docs/gitops.md", help_flags)


def sarif_validator(t):
    shared = shared_dir(t, "SARIF schema validation of the action's log")
    if shared is None:
        return None
    from jsonschema import Draft4Validator
    with open(os.path.join(shared, "schemas", "sarif-schema-2.1.0.json")) as fh:
        return Draft4Validator(json.load(fh), format_checker=Draft4Validator.FORMAT_CHECKER)


def main():
    t = Tap()
    top = os.path.realpath(tempfile.mkdtemp(prefix="dsguard-gitops-"))
    try:
        help_flags = lint_help_flags()
        if not t.ok(shutil.which("kubectl") is not None, "kubectl is installed (it renders the overlays)"):
            return t.done()
        helm = get_helm()
        env = make_bin(top, helm)
        make_sources(top)
        test_pipes(t, top, env, helm)
        test_argocd_plugin(t, top, env)
        test_presync(t, top)
        test_precommit(t, top, help_flags)
        test_action(t, top, sarif_validator(t), help_flags)
        test_workflows(t, help_flags)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    t.done()


if __name__ == "__main__":
    main()
