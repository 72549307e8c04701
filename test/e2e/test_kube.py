"""End-to-end tests of kube/: the stand-in API server's own answers, checked
against the Kubernetes API reference, then the cmocka binaries that drive
kube/ against it: build/test/drive_kube_cache (the DaemonSet cache) and
build/test/drive_kube_api (requests of every verb, deadlines, clones, the
list+watch runner). $BUILD names the build directory (default build)."""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import ROOT, Tap  # noqa: E402

PYTHON = os.environ.get("PYTHON", sys.executable)
BUILD = os.environ.get("BUILD", "build")
DRIVERS = (("cache", os.path.join(ROOT, BUILD, "test", "drive_kube_cache")),
           ("api", os.path.join(ROOT, BUILD, "test", "drive_kube_api")))
# Under make valgrind the API driver runs under memcheck too (its report goes
# where make valgrind looks), with its time limits widened.
VALGRIND_LOGS = os.environ.get("VALGRIND_LOGS") if os.environ.get("DSGUARD_VALGRIND") == "1" else None


def driver_command(prefix, path):
    if not VALGRIND_LOGS or prefix != "api":
        return [path]
    return ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--track-fds=no",
            "--log-file=" + os.path.join(VALGRIND_LOGS, "drive_kube_api.%p.log"), path]
STAND_IN = os.path.join(ROOT, "test", "e2e", "fake_apiserver.py")


def start_stand_in(d):
    proc = subprocess.Popen([PYTHON, STAND_IN, "--dir", d, "--seed", "a/agent-a", "--seed", "b/agent-b",
                             "--seed", "c/agent-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, json.loads(proc.stdout.readline())


def get(info, path, token=None):
    """GET from the stand-in: (status, parsed JSON body)."""
    ctx = ssl.create_default_context(cafile=info["ca"])
    req = urllib.request.Request(info["url"] + path)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read().decode().splitlines()[0])
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def check_stand_in(tap, info):
    """The stand-in answers as the API reference says (see its docstring)."""
    code, body = get(info, "/apis/apps/v1/daemonsets")
    tap.eq((code, body["kind"], body["code"], body["reason"]), (401, "Status", 401, "Unauthorized"),
           "stand-in: no token, 401 Status")
    code, page = get(info, "/apis/apps/v1/daemonsets?limit=2", info["token"])
    meta = page["metadata"]
    tap.ok(code == 200 and page["kind"] == "DaemonSetList" and len(page["items"]) == 2 and meta["continue"]
           and meta["remainingItemCount"] == 1 and "kind" not in page["items"][0],
           "stand-in: first page of a chunked list", page)
    code, rest = get(info, "/apis/apps/v1/daemonsets?limit=2&continue=" + meta["continue"], info["token"])
    tap.ok(code == 200 and len(rest["items"]) == 1 and "continue" not in rest["metadata"]
           and rest["metadata"]["resourceVersion"] == meta["resourceVersion"],
           "stand-in: last page, same resourceVersion", rest)
    code, body = get(info, "/apis/apps/v1/daemonsets?limit=2&continue=bogus", info["token"])
    tap.eq((code, body["reason"], body["code"]), (410, "Expired", 410), "stand-in: expired continue, 410 Gone")
    code, event = get(info, "/apis/apps/v1/daemonsets?watch=1&resourceVersion=1&timeoutSeconds=1", info["token"])
    tap.ok(code == 200 and event["type"] == "ADDED" and event["object"]["kind"] == "DaemonSet",
           "stand-in: a watch streams ADDED events", event)


def call(info, method, path, body=None, ctype="application/json", token=True, raw=None):
    """One request to the stand-in: (status, parsed JSON body or None)."""
    host, port = info["url"].rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), timeout=10,
                                       context=ssl.create_default_context(cafile=info["ca"]))
    headers = {"Authorization": "Bearer " + info["token"]} if token else {}
    data = raw
    if body is not None:
        data = json.dumps(body)
    if data is not None:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, None


def control(info, cmd, body=None):
    """POSTs to the stand-in's /_control/CMD; returns its answer."""
    return call(info, "POST", "/_control/" + cmd, body or {})[1]


LEASES = "/apis/coordination.k8s.io/v1/namespaces/shapes/leases"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def lease(name, holder, rv=None, **spec):
    meta = {"name": name}
    if rv:
        meta["resourceVersion"] = rv
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": dict({"holderIdentity": holder}, **spec)}


def check_create_and_read(tap, info):
    """POST and GET (API reference: "create", "read"; apimachinery errors.go)."""
    code, obj = call(info, "POST", LEASES, lease("a", "me"))
    meta = obj["metadata"]
    tap.ok(code == 201 and obj["kind"] == "Lease" and obj["apiVersion"] == "coordination.k8s.io/v1"
           and meta["name"] == "a" and meta["namespace"] == "shapes" and re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
           and meta["resourceVersion"].isdigit() and RFC3339.match(meta["creationTimestamp"])
           and "generation" not in meta and obj["spec"] == {"holderIdentity": "me"},
           "stand-in: POST 201 Created, the object with uid, resourceVersion, creationTimestamp", obj)
    code, again = call(info, "GET", LEASES + "/a")
    tap.eq((code, again), (200, obj), "stand-in: GET answers the stored object")
    code, st = call(info, "POST", LEASES, lease("a", "you"))
    tap.eq((code, st), (409, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": 'leases.coordination.k8s.io "a" already exists', "reason": "AlreadyExists",
                              "details": {"name": "a", "group": "coordination.k8s.io", "kind": "leases"},
                              "code": 409}),
           "stand-in: POST of an existing name, 409 AlreadyExists as NewAlreadyExists builds it")
    code, st = call(info, "GET", LEASES + "/nope")
    tap.eq((code, st["reason"], st["message"], st["details"]),
           (404, "NotFound", 'leases.coordination.k8s.io "nope" not found',
            {"name": "nope", "group": "coordination.k8s.io", "kind": "leases"}),
           "stand-in: GET of an absent object, 404 NotFound")
    code, st = call(info, "GET", "/api/v1/namespaces/shapes/secrets/nope")
    tap.eq((code, st["message"], st["details"]), (404, 'secrets "nope" not found', {"name": "nope", "kind": "secrets"}),
           "stand-in: a core-group resource is named without a group")
    code, st = call(info, "POST", LEASES, {"metadata": {}})
    tap.eq((code, st["reason"], st["message"], st["details"]["causes"]),
           (422, "Invalid", 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or '
            'generateName is required', [{"reason": "FieldValueRequired", "field": "metadata.name",
                                          "message": "Required value: name or generateName is required"}]),
           "stand-in: POST without a name, 422 Invalid with its cause")
    code, st = call(info, "POST", LEASES, {"metadata": {"name": "b", "namespace": "elsewhere"}})
    tap.eq((code, st["reason"], st["message"]),
           (400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"),
           "stand-in: POST with another namespace, 400 BadRequest")
    code, st = call(info, "POST", LEASES, {"metadata": {"name": "Not_A_Name"}})
    tap.ok(code == 422 and st["message"].startswith('Lease.coordination.k8s.io "Not_A_Name" is invalid: metadata.name: '
                                                     'Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain'),
           "stand-in: a name that is not a DNS subdomain, 422", st)
    code, st = call(info, "POST", LEASES, {"metadata": {"name": "c", "resourceVersion": "5"}})
    tap.eq((code, st.get("reason"), st["message"]),
           (500, None, "resourceVersion should not be set on objects to be created"),
           "stand-in: POST with a resourceVersion fails as the storage fails it")
    code, st = call(info, "POST", LEASES, raw="{}", ctype="text/plain")
    tap.eq((code, st["reason"]), (415, "UnsupportedMediaType"), "stand-in: a body that is not JSON, 415")
    code, st = call(info, "POST", LEASES, raw="x" * (3 * 1024 * 1024 + 1))
    tap.eq((code, st["reason"]), (413, "RequestEntityTooLarge"), "stand-in: a body over 3 MiB, 413")
    code, st = call(info, "POST", "/apis/coordination.k8s.io/v1/leases", lease("d", "me"))
    tap.eq((code, st["reason"]), (405, "MethodNotAllowed"),
           "stand-in: POST to the all-namespaces collection, 405")
    code, st = call(info, "POST", LEASES, lease("e", "me", renewTime="2024-05-01T10:00:00Z"))
    tap.ok(code == 400 and st["reason"] == "BadRequest" and "cannot be handled as a Lease" in st["message"],
           "stand-in: a Lease renewTime without microseconds, 400 (MicroTime is RFC3339Micro)", st)
    code, obj = call(info, "POST", LEASES, lease("e", "me", renewTime="2024-05-01T10:00:00.000000Z"))
    tap.eq(code, 201, "stand-in: a Lease renewTime with microseconds is taken")


def check_update(tap, info):
    """PUT (API reference: "replace"; registry Store.Update and each kind's
    strategy)."""
    _, obj = call(info, "GET", LEASES + "/a")
    rv = obj["metadata"]["resourceVersion"]
    code, new = call(info, "PUT", LEASES + "/a", lease("a", "you", rv))
    tap.ok(code == 200 and new["spec"]["holderIdentity"] == "you" and int(new["metadata"]["resourceVersion"]) > int(rv)
           and new["metadata"]["uid"] == obj["metadata"]["uid"]
           and new["metadata"]["creationTimestamp"] == obj["metadata"]["creationTimestamp"],
           "stand-in: PUT with the current resourceVersion, 200 and a new resourceVersion", new)
    code, st = call(info, "PUT", LEASES + "/a", lease("a", "late", rv))
    tap.eq((code, st["reason"], st["message"]),
           (409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io "a": the object has been '
            'modified; please apply your changes to the latest version and try again'),
           "stand-in: PUT with a stale resourceVersion, 409 Conflict")
    code, st = call(info, "PUT", LEASES + "/a", lease("a", "anyone"))
    tap.eq((code, st["reason"], st["message"]),
           (422, "Invalid", 'leases.coordination.k8s.io "a" is invalid: metadata.resourceVersion: Invalid value: '
            '0x0: must be specified for an update'),
           "stand-in: PUT of a Lease without resourceVersion, 422 (leases allow no unconditional update)")
    code, st = call(info, "PUT", LEASES + "/b", lease("a", "me"))
    tap.eq((code, st["reason"], st["message"]),
           (400, "BadRequest", "the name of the object (a) does not match the name on the URL (b)"),
           "stand-in: PUT with another name, 400")
    code, created = call(info, "PUT", LEASES + "/f", lease("f", "me"))
    tap.ok(code == 201 and created["metadata"]["uid"], "stand-in: PUT of an absent Lease creates it, 201 "
           "(the lease strategy allows create on update)", created)
    secrets_path = "/api/v1/namespaces/shapes/secrets"
    code, st = call(info, "PUT", secrets_path + "/s", {"metadata": {"name": "s"}})
    tap.eq((code, st["reason"]), (404, "NotFound"), "stand-in: PUT of an absent Secret, 404")
    code, sec = call(info, "POST", secrets_path, {"metadata": {"name": "s"}, "data": {"k": "dg=="}})
    tap.eq((code, sec.get("type")), (201, "Opaque"), "stand-in: a Secret's type defaults to Opaque")
    code, sec2 = call(info, "PUT", secrets_path + "/s", {"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dw=="}})
    tap.ok(code == 200 and sec2["data"] == {"k": "dw=="}, "stand-in: PUT of a Secret without resourceVersion, 200 "
           "(secrets allow unconditional updates)", sec2)
    code, st = call(info, "PUT", secrets_path + "/s", {"metadata": {"name": "s"}, "type": "kubernetes.io/tls",
                                                       "data": {"tls.crt": "Yw==", "tls.key": "aw=="}})
    tap.eq((code, st["message"]), (422, 'Secret "s" is invalid: type: Invalid value: "kubernetes.io/tls": field is '
                                        'immutable'), "stand-in: a Secret's type cannot change, 422")
    code, st = call(info, "POST", secrets_path, {"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {}})
    tap.eq((code, st["message"]), (422, 'Secret "t" is invalid: [data[tls.crt]: Required value, data[tls.key]: '
                                        'Required value]'), "stand-in: a TLS Secret needs tls.crt and tls.key, 422")


WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


def check_patch_and_delete(tap, info):
    """PATCH (API reference: "patch"; RFC 6902, RFC 7386) and DELETE ("delete")."""
    code, obj = call(info, "POST", WEBHOOKS, {"metadata": {"name": "hooks", "namespace": "ignored"}, "webhooks": [
        {"name": "m.example.com", "clientConfig": {"service": {"namespace": "n", "name": "s"}}, "rules": [{}],
         "sideEffects": "None", "admissionReviewVersions": ["v1"]}]})
    hook = obj["webhooks"][0]
    tap.ok(code == 201 and "namespace" not in obj["metadata"] and obj["metadata"]["generation"] == 1
           and hook["failurePolicy"] == "Fail" and hook["matchPolicy"] == "Equivalent"
           and hook["namespaceSelector"] == {} and hook["objectSelector"] == {} and hook["timeoutSeconds"] == 10
           and hook["reinvocationPolicy"] == "Never" and hook["rules"] == [{"scope": "*"}]
           and hook["clientConfig"]["service"]["port"] == 443,
           "stand-in: a cluster-scoped object has no namespace, generation 1, the webhook defaults", obj)
    code, patched = call(info, "PATCH", WEBHOOKS + "/hooks", [
        {"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": "Y2E="},
        {"op": "test", "path": "/webhooks/0/name", "value": "m.example.com"}], ctype="application/json-patch+json")
    tap.ok(code == 200 and patched["webhooks"][0]["clientConfig"]["caBundle"] == "Y2E="
           and patched["metadata"]["generation"] == 2,
           "stand-in: a JSON Patch changing the webhooks, 200 and generation 2", patched)
    code, st = call(info, "PATCH", WEBHOOKS + "/hooks", [{"op": "test", "path": "/webhooks/0/name", "value": "x"}],
                    ctype="application/json-patch+json")
    tap.eq((code, st["reason"], st["message"]),
           (422, "Invalid", "the server rejected our request due to an error in our request"),
           "stand-in: a JSON Patch whose test fails, 422 (NewGenericServerResponse)")
    code, st = call(info, "PATCH", WEBHOOKS + "/hooks", {"op": "add"}, ctype="application/json-patch+json")
    tap.eq((code, st["reason"]), (400, "BadRequest"), "stand-in: a JSON Patch that is not an array, 400")
    code, patched = call(info, "PATCH", WEBHOOKS + "/hooks", {"metadata": {"labels": {"a": "b"}},
                                                              "webhooks": None}, ctype="application/merge-patch+json")
    tap.ok(code == 200 and patched["metadata"]["labels"] == {"a": "b"} and "webhooks" not in patched
           and patched["metadata"]["generation"] == 3,
           "stand-in: a merge patch (null removes a key), 200", patched)
    code, patched = call(info, "PATCH", WEBHOOKS + "/hooks", {"metadata": {"labels": {"c": "d"}}},
                         ctype="application/merge-patch+json; charset=utf-8")
    tap.ok(code == 200 and patched["metadata"]["labels"] == {"a": "b", "c": "d"}
           and patched["metadata"]["generation"] == 3,
           "stand-in: metadata alone changes no generation; a charset parameter is allowed", patched)
    code, st = call(info, "PATCH", WEBHOOKS + "/hooks", {"metadata": {"resourceVersion": "1"}},
                    ctype="application/merge-patch+json")
    tap.eq((code, st["reason"]), (409, "Conflict"), "stand-in: a patch setting a stale resourceVersion, 409")
    for ctype in ("application/strategic-merge-patch+json", "application/json"):
        code, st = call(info, "PATCH", WEBHOOKS + "/hooks", {}, ctype=ctype)
        tap.eq((code, st["reason"], st["message"]),
               (415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
                "types include: application/json-patch+json, application/merge-patch+json"),
               "stand-in: PATCH as " + ctype + ", 415")
    code, st = call(info, "PATCH", WEBHOOKS + "/absent", {}, ctype="application/merge-patch+json")
    tap.eq((code, st["reason"]), (404, "NotFound"), "stand-in: PATCH of an absent object, 404")
    code, st = call(info, "DELETE", WEBHOOKS + "/hooks", {"kind": "DeleteOptions", "apiVersion": "v1",
                                                          "preconditions": {"resourceVersion": "1"}})
    tap.ok(code == 409 and st["reason"] == "Conflict" and "Precondition failed: ResourceVersion in precondition: 1"
           in st["message"], "stand-in: DELETE with a precondition that fails, 409", st)
    code, st = call(info, "DELETE", WEBHOOKS + "/hooks")
    tap.eq((code, st), (200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": {"name": "hooks", "group": "admissionregistration.k8s.io",
                                          "kind": "mutatingwebhookconfigurations", "uid": obj["metadata"]["uid"]}}),
           "stand-in: DELETE, 200 with a Success Status naming the object (Store.finalizeDelete)")
    code, st = call(info, "DELETE", WEBHOOKS + "/hooks")
    tap.eq((code, st["reason"]), (404, "NotFound"), "stand-in: DELETE of an absent object, 404")


def check_lists_and_watches(tap, info):
    """Lists and watches of any kind, by namespace and by name."""
    code, page = call(info, "GET", LEASES + "?limit=1")
    tap.ok(code == 200 and page["kind"] == "LeaseList" and len(page["items"]) == 1 and page["metadata"]["continue"]
           and "kind" not in page["items"][0], "stand-in: a Lease list in pages, items without kind", page)
    code, page = call(info, "GET", "/apis/coordination.k8s.io/v1/leases?fieldSelector=metadata.name%3Da")
    tap.ok(code == 200 and [i["metadata"]["name"] for i in page["items"]] == ["a"],
           "stand-in: a list across namespaces by fieldSelector=metadata.name", page)
    code, st = call(info, "GET", LEASES + "?fieldSelector=spec.holderIdentity%3Dme")
    tap.eq((code, st["message"]), (400, "field label not supported: spec.holderIdentity"),
           "stand-in: a field selector on another field, 400")
    reports = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/shapes/policyreports"
    call(info, "POST", reports, {"metadata": {"name": "r"}, "results": []})
    code, page = call(info, "GET", reports)
    tap.ok(code == 200 and page["kind"] == "PolicyReportList"
           and page["items"][0]["kind"] == "PolicyReport"
           and page["items"][0]["apiVersion"] == "wgpolicyk8s.io/v1alpha2",
           "stand-in: a custom resource's list items keep kind and apiVersion", page)
    code, st = call(info, "PUT", reports + "/r", {"metadata": {"name": "r"}, "results": [{}]})
    tap.eq((code, st["reason"]), (422, "Invalid"), "stand-in: PUT of a custom resource needs a resourceVersion")
    start = control(info, "stats")["rv"]
    call(info, "POST", LEASES, lease("w", "one"))
    _, obj = call(info, "GET", LEASES + "/w")
    call(info, "PUT", LEASES + "/w", lease("w", "two", obj["metadata"]["resourceVersion"]))
    call(info, "POST", LEASES, lease("other", "one"))
    call(info, "DELETE", LEASES + "/w")
    events = watch_lines(info, LEASES + "?watch=1&fieldSelector=metadata.name%%3Dw&resourceVersion=%d" % start)
    tap.eq([(e["type"], e["object"]["metadata"]["name"], e["object"].get("spec", {}).get("holderIdentity"))
            for e in events], [("ADDED", "w", "one"), ("MODIFIED", "w", "two"), ("DELETED", "w", "two")],
           "stand-in: a watch of one object sees its ADDED, MODIFIED and DELETED, nothing else")
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    tap.ok(rvs == sorted(rvs) and rvs[0] > start and events[0]["object"]["kind"] == "Lease",
           "stand-in: watch events carry the kind and rising resourceVersions (DELETED at its own)", events)


def watch_lines(info, path):
    """The events a watch streams within 1 s."""
    host, port = info["url"].rsplit("/", 1)[1].split(":")
    conn = http.client.HTTPSConnection(host, int(port), timeout=10,
                                       context=ssl.create_default_context(cafile=info["ca"]))
    conn.request("GET", path + "&timeoutSeconds=1", headers={"Authorization": "Bearer " + info["token"]})
    resp = conn.getresponse()
    lines = resp.read().decode().splitlines()
    conn.close()
    return [json.loads(x) for x in lines if x]


def check_controls(tap, info):
    """The test's levers: latency, faults, call counts, direct objects."""
    control(info, "calls", {"reset": True})
    control(info, "latency", {"resource": "leases", "verb": "get", "seconds": 0.4})
    t = time.monotonic()
    call(info, "GET", LEASES + "/a")
    slow = time.monotonic() - t
    t = time.monotonic()
    call(info, "GET", "/api/v1/namespaces/shapes/secrets/s")
    fast = time.monotonic() - t
    control(info, "latency", {"clear": True})
    tap.ok(slow >= 0.4 and fast < 0.4, "stand-in: latency for one resource and verb (%.2fs, %.2fs)" % (slow, fast))
    control(info, "fault", {"resource": "leases", "verb": "update", "code": 503, "count": 2})
    codes = [call(info, "PUT", LEASES + "/f", lease("f", "me"))[0] for _ in range(3)]
    tap.eq(codes, [503, 503, 422], "stand-in: a fault for 2 calls, then the real answer")
    control(info, "fault", {"resource": "*", "verb": "get", "code": "drop", "seconds": 0.5})
    try:
        dropped = call(info, "GET", LEASES + "/a")[0]
    except (http.client.HTTPException, OSError):
        dropped = "dropped"
    time.sleep(0.6)
    tap.eq((dropped, call(info, "GET", LEASES + "/a")[0]), ("dropped", 200),
           "stand-in: a fault dropping connections for a while")
    counts = control(info, "calls")["calls"]
    tap.eq(counts["leases"], {"get": 3, "update": 3}, "stand-in: calls counted by resource and verb")
    answer = control(info, "object", {"op": "put", "resource": "leases", "namespace": "shapes", "name": "g",
                                      "object": {"spec": {"holderIdentity": "planted"}}})
    code, obj = call(info, "GET", LEASES + "/g")
    tap.ok(code == 200 and obj == answer["object"] and obj["metadata"]["uid"],
           "stand-in: an object written directly is served", (answer, obj))
    answer = control(info, "object", {"op": "get", "resource": "leases", "namespace": "shapes", "name": "nope"})
    tap.eq(answer["object"], None, "stand-in: reading an absent object directly")


def closed_port():

    """A local port nothing listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def relay(tap, prefix, out):
    """Passes a cmocka binary's TAP results on under our numbering.
    Returns how many there were and how many failed."""
    results = failures = 0
    for line in out.splitlines():
        if line.startswith("ok ") or line.startswith("not ok "):
            ok = line.startswith("ok ")
            name = line.split(" - ", 1)[1] if " - " in line else line
            tap.ok(ok, prefix + ": " + name)
            results += 1
            failures += not ok
        elif line.startswith("#"):
            print(line)
    return results, failures


def main():
    tap = Tap()
    missing = [path for _, path in DRIVERS if not os.access(path, os.X_OK)]
    if missing:
        tap.ok(False, "driver binaries built", " ".join(missing) + " missing: run make unit")
        tap.done()
    with tempfile.TemporaryDirectory() as d:
        proc, info = start_stand_in(d)
        try:
            check_stand_in(tap, info)
            check_create_and_read(tap, info)
            check_update(tap, info)
            check_patch_and_delete(tap, info)
            check_lists_and_watches(tap, info)
            check_controls(tap, info)
            env = dict(os.environ, KUBE_TEST_SERVER=info["url"], KUBE_TEST_TOKEN=info["token"],
                       KUBE_TEST_CA=info["ca"], KUBE_TEST_CLIENT_CERT=info["client_cert"],
                       KUBE_TEST_CLIENT_KEY=info["client_key"],
                       KUBE_TEST_DOWN_SERVER="https://127.0.0.1:%d" % closed_port(),
                       CMOCKA_MESSAGE_OUTPUT="TAP")
            if VALGRIND_LOGS:
                env["KUBE_TEST_SLOW"] = "1"
            for prefix, path in DRIVERS:
                run = subprocess.run(driver_command(prefix, path), env=env, capture_output=True, text=True,
                                     timeout=600)
                results, failures = relay(tap, prefix, run.stdout + run.stderr)
                if results == 0 or (run.returncode != 0 and not failures):
                    tap.ok(False, prefix + " test binary ran", run.stdout + run.stderr)
        finally:
            proc.stdin.close()
            proc.wait(timeout=10)
    tap.done()


if __name__ == "__main__":
    main()
