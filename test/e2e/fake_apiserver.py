"""A stand-in Kubernetes API server for dsguard's tests: a small object store.

HTTPS (a CA, server and client certificates made with the openssl CLI),
bearer-token or client-certificate authentication, and for each kind of the
table KINDS (DaemonSets, Leases, Secrets, Validating- and
MutatingWebhookConfigurations, PolicyReports): GET one, paginated lists,
chunked watch streams (of a collection, or of one object by
fieldSelector=metadata.name=NAME), POST, PUT, PATCH (JSON Patch and JSON
merge patch) and DELETE, every write numbered by one global resourceVersion
and seen by the watches. 410 Gone, dropped connections, slow and failing
answers are the test's to make. A test drives it through /_control/... (see
Handler.control below).

The shapes follow the Kubernetes API reference and "API Concepts"
(https://kubernetes.io/docs/reference/using-api/api-concepts/):
  - "Resource URIs": a cluster-scoped resource lives at
    /apis/GROUP/VERSION/RESOURCE[/NAME], a namespaced one at
    /apis/GROUP/VERSION/namespaces/NS/RESOURCE[/NAME], with
    /apis/GROUP/VERSION/RESOURCE listing it across namespaces; the core group
    is /api/v1. An unknown path is answered 404 with a Status.
  - "Efficient detection of changes": a watch is a GET with ?watch=1 and a
    resourceVersion; the answer is a chunked stream of newline-delimited JSON
    objects {"type": ADDED|MODIFIED|DELETED|ERROR, "object": ...}, each object
    a complete resource with its new metadata.resourceVersion (a DELETED one
    is the object's last state at the deletion's resourceVersion). A watch
    from a resourceVersion the server no longer holds ends with an ERROR event
    whose object is a Status with code 410 (or the request fails with HTTP 410
    Gone): the client must list again. A watch without a resourceVersion (or
    "0") begins with an ADDED event for every object there is.
  - "Watch bookmarks": with allowWatchBookmarks=true the server may send
    {"type": "BOOKMARK", "object": {"kind": ..., "apiVersion": ...,
    "metadata": {"resourceVersion": "..."}}}, an object with nothing but
    its kind and a resourceVersion.
  - "Retrieving large results sets in chunks": ?limit=N returns at most N
    items, metadata.continue holds an opaque token for the next page (absent
    on the last one) and metadata.remainingItemCount how many are left; every
    page carries the list's resourceVersion. An expired continue token is
    answered with 410 Gone.
  - Field selectors ("Field Selectors" in the concepts): metadata.name and
    metadata.namespace with =, == and !=, joined by commas; any other field
    is refused with 400 ("field label not supported: F").
  - Errors are a Status object (kind Status, apiVersion v1, status Failure,
    message, reason, code, details), built as apimachinery's
    pkg/api/errors/errors.go builds them: NewNotFound (404 NotFound,
    'leases.coordination.k8s.io "x" not found'), NewAlreadyExists (409
    AlreadyExists, '... "x" already exists'), NewConflict (409 Conflict,
    'Operation cannot be fulfilled on ... "x": ...'), NewInvalid (422 Invalid,
    'Lease.coordination.k8s.io "x" is invalid: FIELD: ...', with causes),
    NewBadRequest (400 BadRequest), NewResourceExpired (410 Expired),
    NewRequestEntityTooLargeError (413), NewUnauthorized (401).
Items of a list of a built-in kind carry no kind or apiVersion (the list's
kind, e.g. DaemonSetList, says what they are), as the real server answers;
items of a custom resource's list (PolicyReports) carry them.

What the writes do, as apiserver's generic registry (registry/generic/
registry/store.go) and each kind's strategy do them:
  - POST (handlers/create.go, rest.BeforeCreate): the body's namespace is
    taken from the URL when empty, and a different one is refused with 400
    BadRequest "the namespace of the provided object does not match the
    namespace sent on the request"; an apiVersion other than the URL's is 400;
    a name is required (or generateName) and must be a DNS subdomain, else 422
    Invalid; a body with metadata.resourceVersion set fails as the storage
    fails it ("resourceVersion should not be set on objects to be created",
    500); an existing name is 409 AlreadyExists. The answer is 201 Created
    with the stored object: metadata.uid, resourceVersion and
    creationTimestamp set, generation 1 for the kinds whose strategy sets it,
    the status of a DaemonSet cleared.
  - PUT (handlers/update.go, Store.Update): the body's name must be the URL's
    (else 400); an absent object is 404 NotFound, except for Leases, whose
    strategy allows create on update (201 Created); a metadata.resourceVersion
    other than the stored one is 409 Conflict "... the object has been
    modified; please apply your changes to the latest version and try again";
    none at all is allowed only for the kinds that allow unconditional updates
    (DaemonSets, Secrets), and is 422 Invalid "metadata.resourceVersion:
    Invalid value: 0x0: must be specified for an update" for the others
    (Leases, webhook configurations, PolicyReports). 200 with the object;
    generation is bumped when the spec changes (per strategy).
  - PATCH (handlers/patch.go): Content-Type application/json-patch+json (RFC
    6902) or application/merge-patch+json (RFC 7386); any other type is 415
    UnsupportedMediaType "the body of the request was in an unknown format -
    accepted media types include: ...". A JSON Patch that is not a JSON array
    of operations is 400; one that cannot be applied (a failed "test", a
    missing path) is 422 "the server rejected our request due to an error in
    our request" (NewGenericServerResponse). The patched object is then
    updated as a PUT is (its resourceVersion, if the patch sets one, is a
    precondition). An absent object is 404.
  - DELETE (handlers/delete.go, Store.Delete and finalizeDelete): 200 with a
    Status {"status": "Success", "details": {"name", "group", "kind": the
    resource, "uid"}} for these kinds (none of their stores returns the
    deleted object); 404 NotFound when absent; a DeleteOptions body's
    preconditions (uid, resourceVersion) that do not hold are 409 Conflict.
  - Bodies over 3 MiB are 413, as the server's request limit is.
  - Lease acquireTime and renewTime are MicroTime: RFC 3339 with exactly six
    fractional digits (metav1.MicroTime's UnmarshalJSON parses them with
    RFC3339Micro); anything else is 400 BadRequest, as the decoder answers.
  - A kubernetes.io/tls Secret needs data["tls.crt"] and data["tls.key"]
    (422), a Secret's type defaults to Opaque and cannot change (422);
    webhook configurations get the defaults of the API reference
    (failurePolicy Fail, matchPolicy Equivalent, empty namespace and object
    selectors, timeoutSeconds 10, rules' scope "*", a service's port 443,
    reinvocationPolicy Never for mutating ones).
Discovery ("Discovering API resources" in API Concepts): GET /api/v1 and
/apis/GROUP/VERSION answer an APIResourceList (kind APIResourceList,
apiVersion v1, groupVersion, resources[] with name, singularName,
namespaced, kind and verbs, as metav1.APIResourceList has them) of the kinds
served there. A custom resource whose CRD is not installed (the "crd"
control) is served nowhere: its discovery and every path of it answer 404
NotFound "the server could not find the requested resource", as the API
server answers a group/version or resource it does not serve.
Not modelled: namespaces that must exist, label selectors, strategic merge
and server-side apply patches, subresources (/status), managedFields, field
pruning and the kinds' other validation.

Run: fake_apiserver.py --dir DIR [--seed NS/NAME]... ; prints one JSON line
{"url", "ca", "token", "client_cert", "client_key"} when it listens.
"""
import argparse
import copy
import json
import os
import random
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

DAEMONSETS = "/apis/apps/v1/daemonsets"
MAX_BODY = 3 * 1024 * 1024  # the API server's limit on a request body
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                   "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


# ---- the kinds ----

class Kind:
    """One row of the table: where a resource lives and what its strategy does.
    create_on_update: a PUT of an absent object creates it (AllowCreateOnUpdate).
    unconditional: a PUT without resourceVersion is allowed (AllowUnconditionalUpdate).
    generation: "spec" (bumped when spec changes), "webhooks", "content" (any change
    outside metadata, as for custom resources) or None (not set).
    custom: a custom resource (list items keep kind and apiVersion)."""

    def __init__(self, group, version, resource, kind, namespaced, create_on_update=False, unconditional=True,
                 generation=None, custom=False, prepare=None, validate=None):
        self.group, self.version, self.resource, self.kind = group, version, resource, kind
        self.namespaced, self.create_on_update, self.unconditional = namespaced, create_on_update, unconditional
        self.generation, self.custom, self.prepare, self.validate = generation, custom, prepare, validate
        self.api_version = group + "/" + version if group else version
        # schema.GroupResource.String() and GroupKind.String(): "leases.coordination.k8s.io", "secrets"
        self.qualified = resource + "." + group if group else resource
        self.qualified_kind = kind + "." + group if group else kind
        self.prefix = "/apis/" + self.api_version if group else "/api/" + version


def prepare_daemonset(obj, old):
    """daemonSetStrategy: create clears the status, update keeps the old one."""
    if old is None:
        obj["status"] = {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                         "numberReady": 0}
    elif "status" in old:
        obj["status"] = copy.deepcopy(old["status"])
    else:
        obj.pop("status", None)


def validate_lease(obj, old):
    """ValidateLeaseSpec; acquireTime and renewTime must decode as MicroTime
    (checked in decode_errors)."""
    spec = obj.get("spec") or {}
    errs = []
    d = spec.get("leaseDurationSeconds")
    if isinstance(d, int) and d <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", d, "must be greater than 0"))
    t = spec.get("leaseTransitions")
    if isinstance(t, int) and t < 0:
        errs.append(invalid("spec.leaseTransitions", t, "must be greater than or equal to 0"))
    return errs


def prepare_secret(obj, old):
    """SetDefaults_Secret: type Opaque when empty."""
    if not obj.get("type"):
        obj["type"] = "Opaque"


def validate_secret(obj, old):
    """ValidateSecret (kubernetes.io/tls needs both keys) and
    ValidateSecretUpdate (type is immutable)."""
    errs = []
    data = obj.get("data") or {}
    if obj.get("type") == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(required("data[%s]" % key, ""))
    if old is not None and old.get("type") != obj.get("type"):
        errs.append(invalid("type", obj.get("type"), "field is immutable"))
    return errs


def prepare_webhooks(mutating):
    """The defaults the API reference gives each webhook of a
    Validating/MutatingWebhookConfiguration (admissionregistration.k8s.io/v1)."""
    def prepare(obj, old):
        for hook in obj.get("webhooks") or []:
            if not isinstance(hook, dict):
                continue
            hook.setdefault("failurePolicy", "Fail")
            hook.setdefault("matchPolicy", "Equivalent")
            hook.setdefault("namespaceSelector", {})
            hook.setdefault("objectSelector", {})
            hook.setdefault("timeoutSeconds", 10)
            if mutating:
                hook.setdefault("reinvocationPolicy", "Never")
            for rule in hook.get("rules") or []:
                if isinstance(rule, dict):
                    rule.setdefault("scope", "*")
            service = (hook.get("clientConfig") or {}).get("service")
            if isinstance(service, dict):
                service.setdefault("port", 443)
    return prepare


KINDS = [
    Kind("apps", "v1", "daemonsets", "DaemonSet", True, generation="spec", prepare=prepare_daemonset),
    Kind("coordination.k8s.io", "v1", "leases", "Lease", True, create_on_update=True, unconditional=False,
         validate=validate_lease),
    Kind("", "v1", "secrets", "Secret", True, prepare=prepare_secret, validate=validate_secret),
    Kind("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
         False, unconditional=False, generation="webhooks", prepare=prepare_webhooks(False)),
    Kind("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
         False, unconditional=False, generation="webhooks", prepare=prepare_webhooks(True)),
    Kind("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport", True, unconditional=False,
         generation="content", custom=True),
]
BY_RESOURCE = {k.resource: k for k in KINDS}
BY_PREFIX = {(k.prefix, k.resource): k for k in KINDS}
# The verbs discovery names for every kind here (what the store serves).
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


# ---- Status objects (apimachinery pkg/api/errors) ----

class ApiError(Exception):
    """A failure answered as a Status."""

    def __init__(self, status):
        super().__init__(status.get("message", ""))
        self.status = status


def status(code, reason, message, details=None):
    """A metav1.Status, as the API server sends for every failure."""
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


def details(**fields):
    """metav1.StatusDetails: every field is omitempty."""
    return {k: v for k, v in fields.items() if v not in ("", None, [])}


def not_found(kind, name):
    return ApiError(status(404, "NotFound", '%s "%s" not found' % (kind.qualified, name),
                           details(name=name, group=kind.group, kind=kind.resource)))


def already_exists(kind, name):
    return ApiError(status(409, "AlreadyExists", '%s "%s" already exists' % (kind.qualified, name),
                           details(name=name, group=kind.group, kind=kind.resource)))


def conflict(kind, name, why):
    return ApiError(status(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (kind.qualified, name, why),
                           details(name=name, group=kind.group, kind=kind.resource)))


def bad_request(message):
    return ApiError(status(400, "BadRequest", message))


def go_value(v):
    """A bad value as field.Error prints it: strings quoted, numbers bare."""
    return json.dumps(v) if isinstance(v, str) else ("null" if v is None else str(v))


def required(field, detail):
    body = "Required value" + (": " + detail if detail else "")
    return {"reason": "FieldValueRequired", "message": body, "field": field}


def invalid(field, value, detail):
    body = "Invalid value: %s: %s" % (go_value(value), detail)
    return {"reason": "FieldValueInvalid", "message": body, "field": field}


def invalid_error(group, kind_name, qualified_kind, name, causes):
    """NewInvalid: the message aggregates the causes as utilerrors does."""
    texts = ["%s: %s" % (c["field"], c["message"]) for c in causes]
    agg = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(status(422, "Invalid", '%s "%s" is invalid: %s' % (qualified_kind, name, agg),
                           details(name=name, group=group, kind=kind_name, causes=causes)))


def generic_error(code, message=None):
    """An answer for a failure the test injects (NewGenericServerResponse's
    reasons by code; NewInternalError's message for 500)."""
    reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
    texts = {429: "the server has received too many requests and has asked us to try again later",
             500: "Internal error occurred: injected by the test",
             503: "the server is currently unable to handle the request",
             504: "Timeout: request did not complete within the allotted timeout"}
    return status(code, reasons.get(code, "InternalError" if code >= 500 else ""),
                  message or texts.get(code, "injected by the test"))


# ---- JSON Patch (RFC 6902) and JSON merge patch (RFC 7386) ----

class PatchError(Exception):
    pass


def pointer_tokens(path):
    """RFC 6901: "" is the whole document; else "/" then ~1 and ~0 escapes."""
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % (path,))
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def array_index(container, token, adding):
    if token == "-" and adding:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError("invalid array index %r" % token)
    i = int(token)
    if i > len(container) or (i == len(container) and not adding):
        raise PatchError("array index %d out of range" % i)
    return i


def resolve_parent(doc, tokens):
    """The container holding the last token, which must exist."""
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list):
            node = node[array_index(node, t, False)]
        else:
            raise PatchError("path does not exist: " + t)
    return node


def pointer_get(doc, path):
    tokens = pointer_tokens(path)
    if not tokens:
        return doc
    parent, last = resolve_parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[array_index(parent, last, False)]
    raise PatchError("path does not exist: " + path)


def pointer_add(doc, path, value):
    tokens = pointer_tokens(path)
    if not tokens:
        return value
    parent, last = resolve_parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(array_index(parent, last, True), value)
    else:
        raise PatchError("cannot add to a scalar")
    return doc


def pointer_remove(doc, path):
    tokens = pointer_tokens(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = resolve_parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(array_index(parent, last, False))
    raise PatchError("path does not exist: " + path)


def json_patch(doc, ops):
    """Applies RFC 6902 operations to a copy of doc."""
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("an operation that is not an object")
        kind, path = op.get("op"), op.get("path")
        if kind == "add":
            doc = pointer_add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            pointer_remove(doc, path)
        elif kind == "replace":
            pointer_get(doc, path)
            if pointer_tokens(path):
                pointer_remove(doc, path)
            doc = pointer_add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            value = pointer_remove(doc, op.get("from"))
            doc = pointer_add(doc, path, value)
        elif kind == "copy":
            doc = pointer_add(doc, path, copy.deepcopy(pointer_get(doc, op.get("from"))))
        elif kind == "test":
            if pointer_get(doc, path) != op.get("value"):
                raise PatchError("testing value %s failed" % path)
        else:
            raise PatchError("unexpected kind: %r" % (kind,))
    return doc


def merge_patch(target, patch):
    """RFC 7386: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---- the store ----

def daemonset(ns, name, rv, uid):
    """A DaemonSet of apps/v1 as a watch event carries it."""
    labels = {"app": name}
    return {
        "kind": "DaemonSet", "apiVersion": "apps/v1",
        "metadata": {"name": name, "namespace": ns, "uid": uid, "resourceVersion": str(rv),
                     "generation": 1, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name, "image": "busybox"}]}}},
        "status": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                   "desiredNumberScheduled": 0, "numberReady": 0},
    }


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields")


def ordered(obj):
    """obj with its keys in the order the server's encoder writes them: kind,
    apiVersion, metadata (ObjectMeta's field order), then the rest."""
    meta = obj.get("metadata", {})
    meta = {**{k: meta[k] for k in META_ORDER if k in meta}, **{k: v for k, v in meta.items() if k not in META_ORDER}}
    rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata")}
    return {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "metadata": meta, **rest}


class State:
    """Everything the server holds, under one lock; watchers wait on `cond`."""

    def __init__(self, token):
        self.cond = threading.Condition()
        self.objects = {}       # (resource, ns, name) -> object; ns is "" for cluster-scoped kinds
        self.rv = 1
        self.history = []       # [(rv, type, resource, object)], in order; bookmarks too
        self.compacted = 0      # a watch from a resourceVersion below this gets 410
        # (Condition's lock is an RLock: write() may run under apply_control())
        self.token = token
        self.page_size = 0      # the server's own cap on a page; 0: none
        self.gone_mode = "event"  # how a too old watch is refused: "event" or "http"
        self.delay = 0.0        # seconds before every API answer
        self.unavailable = 0    # the next N API requests get 503
        self.cuts = 0           # bumped by "drop": every open watch is cut
        self.errors = 0         # bumped by "error": every open watch gets an ERROR
        self.error_code = 410
        self.continues = {}     # token -> (items, offset, rv)
        self.counts = {"lists": 0, "pages": 0, "watches": 0, "unauthorized": 0, "gone": 0}
        self.calls = {}         # resource -> verb -> how many requests
        self.asked = set()      # (resource, verb, namespace, name) as RBAC sees each request (authz_name)
        self.latency = []       # [{"resource", "verb", "seconds"}]
        self.faults = []        # [{"resource", "verb", "code", "count", "until"}]
        self.uninstalled = set()  # resources of custom kinds whose CRD is not installed

    def write(self, resource, ns, name, obj):
        """Stores obj (None: deletes) at a new resourceVersion and records the
        event. Returns the stored object (a DELETED one: its last state), or
        None when there was nothing to delete."""
        with self.cond:
            key = (resource, ns, name)
            if obj is None and key not in self.objects:
                return None
            self.rv += 1
            if obj is None:
                kind, obj = "DELETED", copy.deepcopy(self.objects.pop(key))
                obj["metadata"]["resourceVersion"] = str(self.rv)
            else:
                kind = "MODIFIED" if key in self.objects else "ADDED"
                obj = copy.deepcopy(obj)
                obj["metadata"]["resourceVersion"] = str(self.rv)
                obj = ordered(obj)
                self.objects[key] = obj
            self.history.append((self.rv, kind, resource, copy.deepcopy(obj)))
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def change(self, kind, ns, name):
        """The DaemonSet controls: ADDED/MODIFIED (a fresh object) or DELETED."""
        with self.cond:
            if kind == "DELETED":
                return self.write("daemonsets", ns, name, None) is not None
            self.write("daemonsets", ns, name, daemonset(ns, name, self.rv + 1, secrets.token_hex(8)))
            return True

    def bookmark(self, resource="daemonsets"):
        with self.cond:
            kind = BY_RESOURCE[resource]
            obj = {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(self.rv)}}
            self.history.append((self.rv, "BOOKMARK", resource, obj))
            self.cond.notify_all()

    def count(self, resource, verb, ns=None, name=""):
        with self.cond:
            by_verb = self.calls.setdefault(resource, {})
            by_verb[verb] = by_verb.get(verb, 0) + 1
            self.asked.add((resource, verb, ns or "", name))

    def injected(self, resource, verb):
        """The latency and the fault the test set for this call (seconds,
        fault or None). A fault with a count is used up by the calls it fails."""
        def matches(rule):
            return rule["resource"] in ("*", resource) and rule["verb"] in ("*", verb)
        with self.cond:
            seconds = sum(r["seconds"] for r in self.latency if matches(r))
            now = time.monotonic()
            self.faults = [f for f in self.faults if f["until"] is None or f["until"] > now]
            for f in self.faults:
                if matches(f) and f["count"] != 0:
                    if f["count"] > 0:
                        f["count"] -= 1
                    return seconds, f["code"]
            return seconds, None

    def daemonset_count(self):
        return sum(1 for k in self.objects if k[0] == "daemonsets")


# ---- requests ----

class Route:
    """What a URL names: a kind, a namespace (None: all, or cluster-scoped)
    and a name (None: the collection)."""

    def __init__(self, kind, ns, name):
        self.kind, self.ns, self.name = kind, ns, name


def route(path):
    """Parses an API path ("Resource URIs"). Returns a Route, or None for a
    path the server does not serve."""
    m = re.fullmatch(r"(/api/v1|/apis/[^/]+/[^/]+)/(.*)", path)
    if not m:
        return None
    prefix, rest = m.group(1), m.group(2).split("/")
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2 or not all(rest):
        return None
    kind = BY_PREFIX.get((prefix, rest[0]))
    if kind is None or (ns is not None and not kind.namespaced):
        return None
    name = rest[1] if len(rest) == 2 else None
    if name is not None and kind.namespaced and ns is None:
        return None
    return Route(kind, ns, name)


def field_selector(text):
    """[(field, op, value)] of a fieldSelector; 400 for other fields."""
    out = []
    for term in filter(None, (text or "").split(",")):
        m = re.fullmatch(r"([^=!]+)(==|!=|=)(.*)", term)
        if not m:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, term))
        field, op, value = m.groups()
        if field not in ("metadata.name", "metadata.namespace"):
            raise bad_request("field label not supported: " + field)
        out.append((field, op != "!=", value))
    return out


def authz_name(route, verb, q):
    """The name RBAC's resourceNames are matched against, as the API server's
    RequestInfoFactory (apiserver/pkg/endpoints/request/requestinfo.go)
    resolves it: the object's name from the path; for a list or watch, the
    value of a fieldSelector that requires metadata.name to equal it
    (fields.Selector.RequiresExactMatch: one term, = or ==); "" otherwise
    (a create names no object: RBAC cannot limit it to names)."""
    if route.name:
        return route.name
    if verb not in ("list", "watch"):
        return ""
    try:
        terms = field_selector(q.get("fieldSelector"))
    except ApiError:
        return ""
    names = [v for f, equal, v in terms if f == "metadata.name" and equal]
    return names[0] if len(names) == 1 else ""


def selected(obj, terms):
    meta = obj.get("metadata", {})
    for field, equal, value in terms:
        actual = meta.get("name" if field == "metadata.name" else "namespace", "")
        if (actual == value) != equal:
            return False
    return True


def content_type(headers):
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set by serve()
    # TCP_NODELAY, as the API server's connections have it (Go's net package
    # sets it on every TCP connection, net.TCPConn.SetNoDelay's default): an
    # answer's headers and body, written apart, go out at once instead of
    # waiting up to 40 ms for the client's delayed ACK (Nagle).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def send_json(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        st = self.state
        auth = self.headers.get("Authorization", "")
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        with st.cond:
            return bool(cert) or (bool(st.token) and auth == "Bearer " + st.token)

    def read_body(self):
        """The request body, or None after answering 413 (the body is read
        and dropped so that the client hears the answer; the connection is
        then closed)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            left = min(length, 16 * MAX_BODY)
            while left > 0:
                left -= len(self.rfile.read(min(left, 65536)) or b"x" * left)
            self.close_connection = True
            self.send_json(413, status(413, "RequestEntityTooLarge",
                                       "Request entity too large: limit is %d" % MAX_BODY))
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        url = urlparse(self.path)
        if url.path.startswith("/_control/"):
            return self.control(url.path[len("/_control/"):], {})
        return self.api("GET", url, b"")

    def do_POST(self):
        url = urlparse(self.path)
        body = self.read_body()
        if body is None:
            return None
        if url.path.startswith("/_control/"):
            return self.control(url.path[len("/_control/"):], json.loads(body or b"{}"))
        return self.api("POST", url, body)

    def do_PUT(self):
        body = self.read_body()
        return None if body is None else self.api("PUT", urlparse(self.path), body)

    def do_PATCH(self):
        body = self.read_body()
        return None if body is None else self.api("PATCH", urlparse(self.path), body)

    def do_DELETE(self):
        body = self.read_body()
        return None if body is None else self.api("DELETE", urlparse(self.path), body)

    def api(self, method, url, body):
        st = self.state
        with st.cond:
            delay = st.delay
            busy = st.unavailable > 0
            st.unavailable -= busy
        time.sleep(delay)
        if busy:
            return self.send_json(503, status(503, "ServiceUnavailable", "the server is unavailable"))
        if not self.authorized():
            with st.cond:
                st.counts["unauthorized"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        r = route(url.path)
        with st.cond:
            served = r is not None and r.kind.resource not in st.uninstalled
        if r is None and method == "GET" and self.discovery(url.path):
            return None
        if not served:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        verb = self.verb(method, r, q)
        if verb is None:
            return self.send_json(405, status(405, "MethodNotAllowed",
                                              "the server does not allow this method on the requested resource"))
        st.count(r.kind.resource, verb, r.ns, authz_name(r, verb, q))
        seconds, fault = st.injected(r.kind.resource, verb)
        time.sleep(seconds)
        if fault == "drop":
            return self.cut()
        if fault is not None:
            return self.send_json(fault, generic_error(fault), [("Retry-After", "1")] if fault == 429 else [])
        try:
            if verb == "watch":
                return self.watch(r, q)
            handler = {"list": self.list, "get": self.get, "create": self.create, "update": self.update,
                       "patch": self.patch, "delete": self.delete}[verb]
            code, answer = handler(r, q, body)
        except ApiError as e:
            code, answer = e.status["code"], e.status
        self.send_json(code, answer)

    def discovery(self, path):
        """Answers GET /api/v1 or /apis/GROUP/VERSION with the
        APIResourceList of the kinds served there (metav1.APIResourceList).
        Returns False when the path is no group/version this server serves."""
        st = self.state
        with st.cond:
            kinds = [k for k in KINDS if k.prefix == path and k.resource not in st.uninstalled]
        if not kinds:
            return False
        self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].api_version,
                             "resources": [{"name": k.resource, "singularName": k.kind.lower(),
                                            "namespaced": k.namespaced, "kind": k.kind, "verbs": VERBS}
                                           for k in kinds]})
        return True

    @staticmethod
    def verb(method, r, q):
        """The API verb of a request (as RBAC and audit name them), or None
        when the URL does not take that method."""
        if r.name is None:
            if method == "GET":
                return "watch" if q.get("watch") in ("1", "true") else "list"
            if method == "POST" and (r.ns is not None or not r.kind.namespaced):
                return "create"
            return None
        return {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)

    # ---- reads ----

    def get(self, r, q, body):
        st = self.state
        with st.cond:
            obj = st.objects.get((r.kind.resource, r.ns or "", r.name))
            if obj is None:
                raise not_found(r.kind, r.name)
            return 200, copy.deepcopy(obj)

    def matching(self, r, terms):
        """The objects of r's collection the selector picks, sorted."""
        st = self.state
        keys = sorted(k for k in st.objects if k[0] == r.kind.resource and (r.ns is None or k[1] == r.ns))
        return [st.objects[k] for k in keys if selected(st.objects[k], terms)]

    # "Retrieving large results sets in chunks"
    def list(self, r, q, body):
        st = self.state
        terms = field_selector(q.get("fieldSelector"))
        if q.get("labelSelector"):
            raise bad_request("the stand-in does not support labelSelector")
        limit = int(q.get("limit", "0") or 0)
        with st.cond:
            if q.get("continue"):
                if q["continue"] not in st.continues:
                    st.counts["gone"] += 1
                    raise ApiError(status(
                        410, "Expired", "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."))
                items, offset, rv = st.continues.pop(q["continue"])
            else:
                st.counts["lists"] += 1
                items = [copy.deepcopy(o) for o in self.matching(r, terms)]
                offset, rv = 0, st.rv
            st.counts["pages"] += 1
            size = min(x for x in (limit, st.page_size, len(items) - offset) if x > 0) \
                if len(items) > offset else 0
            page = items[offset:offset + size]
            meta = {"resourceVersion": str(rv)}
            if offset + size < len(items):
                token = secrets.token_urlsafe(24)
                st.continues[token] = (items, offset + size, rv)
                meta["continue"] = token
                meta["remainingItemCount"] = len(items) - offset - size
        out = []
        for obj in page:
            item = copy.deepcopy(obj)
            if not r.kind.custom:
                del item["kind"], item["apiVersion"]
            out.append(item)
        return 200, {"kind": r.kind.kind + "List", "apiVersion": r.kind.api_version, "metadata": meta, "items": out}

    # ---- writes ----

    def decode(self, r, body, what="the body"):
        """A JSON object from a request body (application/json), as the
        create and update handlers decode it."""
        ctype = content_type(self.headers)
        if ctype != "application/json":
            raise ApiError(status(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: application/json"))
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request("%s: %s" % (what, e))
        if not isinstance(obj, dict):
            raise bad_request("%s is not a JSON object" % what)
        return self.typed(r, obj)

    @staticmethod
    def typed(r, obj):
        """Checks and fills kind and apiVersion (the URL's are the defaults)
        and metadata, and the decoding of typed fields."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version not in (None, "", r.kind.api_version):
            raise bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                              % (api_version, r.kind.api_version))
        if kind not in (None, "", r.kind.kind):
            raise bad_request("%s in version \"%s\" cannot be handled as a %s: the kind in the data (%s) is not %s"
                              % (r.kind.kind, r.kind.version, r.kind.kind, kind, r.kind.kind))
        if not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("%s in version \"%s\" cannot be handled as a %s: metadata is not an object"
                              % (r.kind.kind, r.kind.version, r.kind.kind))
        obj["apiVersion"], obj["kind"] = r.kind.api_version, r.kind.kind
        obj.setdefault("metadata", {})
        if r.kind.resource == "leases":
            for field in ("acquireTime", "renewTime"):
                value = (obj.get("spec") or {}).get(field)
                if value is not None and not (isinstance(value, str) and MICRO_TIME.match(value)):
                    raise bad_request('Lease in version "v1" cannot be handled as a Lease: parsing time %s as '
                                      '"2006-01-02T15:04:05.000000Z07:00": not RFC 3339 with 6 fractional digits'
                                      % json.dumps(value))
        return obj

    def check_namespace(self, r, obj):
        """EnsureObjectNamespaceMatchesRequestNamespace."""
        meta = obj["metadata"]
        if not r.kind.namespaced:
            meta.pop("namespace", None)
        elif not meta.get("namespace"):
            meta["namespace"] = r.ns
        elif meta["namespace"] != r.ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def validate(self, r, obj, old):
        """The strategy's defaults and validation, and ValidateObjectMeta's
        name rules. Raises 422 Invalid."""
        kind, meta = r.kind, obj["metadata"]
        if kind.prepare:
            kind.prepare(obj, old)
        causes = list(kind.validate(obj, old)) if kind.validate else []
        name = meta.get("name") or ""
        if not name:
            causes.append(required("metadata.name", "name or generateName is required"))
        elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            causes.append(invalid("metadata.name", name, DNS1123_MESSAGE))
        if causes:
            raise invalid_error(kind.group, kind.kind, kind.qualified_kind, name, causes)

    def create(self, r, q, body):
        st = self.state
        obj = self.decode(r, body)
        self.check_namespace(r, obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        self.validate(r, obj, None)
        if meta.get("resourceVersion"):
            # etcd3 store Create: not a Status error, so ErrorToAPIStatus answers 500 without a reason
            raise ApiError(status(500, "", "resourceVersion should not be set on objects to be created"))
        with st.cond:
            key = (r.kind.resource, meta.get("namespace", ""), meta["name"])
            if key in st.objects:
                raise already_exists(r.kind, meta["name"])
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if r.kind.generation:
                meta["generation"] = 1
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
                meta.pop(k, None)
            return 201, st.write(*key, obj)

    def store_update(self, r, obj, precondition_only):
        """Store.Update for a new object obj of r: create on update, the
        resourceVersion check, the strategy, generation. Returns (code, object)."""
        st = self.state
        meta = obj["metadata"]
        if meta.get("name") != r.name:
            raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                              % (meta.get("name", ""), r.name))
        self.check_namespace(r, obj)
        with st.cond:
            key = (r.kind.resource, r.ns or "", r.name)
            old = st.objects.get(key)
            if old is None:
                if not r.kind.create_on_update or precondition_only:
                    raise not_found(r.kind, r.name)
                meta.pop("resourceVersion", None)
                self.validate(r, obj, None)
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = now_rfc3339()
                if r.kind.generation:
                    meta["generation"] = 1
                return 201, st.write(*key, obj)
            rv = meta.get("resourceVersion") or ""
            if not rv and not r.kind.unconditional and not precondition_only:
                # Store.Update names the resource where the kind belongs (its TODO says so)
                raise invalid_error(r.kind.group, r.kind.resource, r.kind.qualified, r.name,
                                    [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                      "message": "Invalid value: 0x0: must be specified for an update"}])
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise conflict(r.kind, r.name, OPTIMISTIC_LOCK)
            self.validate(r, obj, old)
            # metadata the server owns stays as stored
            for k in ("uid", "creationTimestamp", "generation"):
                if k in old["metadata"]:
                    meta[k] = old["metadata"][k]
                else:
                    meta.pop(k, None)
            if r.kind.generation and self.spec_changed(r.kind, old, obj):
                meta["generation"] = old["metadata"].get("generation", 1) + 1
            return 200, st.write(*key, obj)

    @staticmethod
    def spec_changed(kind, old, new):
        if kind.generation == "spec":
            return old.get("spec") != new.get("spec")
        if kind.generation == "webhooks":
            return old.get("webhooks") != new.get("webhooks")
        strip = ("metadata",)
        return {k: v for k, v in old.items() if k not in strip} != {k: v for k, v in new.items() if k not in strip}

    def update(self, r, q, body):
        return self.store_update(r, self.decode(r, body), False)

    def patch(self, r, q, body):
        st = self.state
        ctype = content_type(self.headers)
        if ctype not in (JSON_PATCH, MERGE_PATCH):
            raise ApiError(status(415, "UnsupportedMediaType",
                                  "the body of the request was in an unknown format - accepted media types "
                                  "include: %s, %s" % (JSON_PATCH, MERGE_PATCH)))
        try:
            doc = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request(str(e))
        with st.cond:
            current = st.objects.get((r.kind.resource, r.ns or "", r.name))
            if current is None:
                raise not_found(r.kind, r.name)
            current = copy.deepcopy(current)
            rv = current["metadata"]["resourceVersion"]
            if ctype == JSON_PATCH:
                if not isinstance(doc, list):
                    raise bad_request("json: cannot unmarshal %s into Go value of type jsonpatch.Patch"
                                      % type(doc).__name__)
                try:
                    patched = json_patch(current, doc)
                except PatchError:
                    raise ApiError(status(422, "Invalid", "the server rejected our request due to an error "
                                          "in our request", {}))
            else:
                if not isinstance(doc, dict):
                    raise bad_request("Invalid JSON Patch")
                patched = merge_patch(current, doc)
            if not isinstance(patched, dict):
                raise ApiError(status(422, "Invalid", "the server rejected our request due to an error in our "
                                      "request", {}))
            patched = self.typed(r, patched)
            # the patch applies to the stored object: its resourceVersion is the precondition
            patched["metadata"].setdefault("resourceVersion", rv)
            return self.store_update(r, patched, True)

    def delete(self, r, q, body):
        st = self.state
        options = {}
        if body:
            try:
                options = json.loads(body)
            except ValueError as e:
                raise bad_request(str(e))
        pre = (options or {}).get("preconditions") or {}
        with st.cond:
            key = (r.kind.resource, r.ns or "", r.name)
            old = st.objects.get(key)
            if old is None:
                raise not_found(r.kind, r.name)
            meta = old["metadata"]
            why = None
            if pre.get("uid") is not None and pre["uid"] != meta.get("uid"):
                why = "UID in precondition: %s, UID in object meta: %s" % (pre["uid"], meta.get("uid"))
            elif pre.get("resourceVersion") is not None and pre["resourceVersion"] != meta.get("resourceVersion"):
                why = "ResourceVersion in precondition: %s, ResourceVersion in object meta: %s" % (
                    pre["resourceVersion"], meta.get("resourceVersion"))
            if why:
                storage_key = "/registry/%s/%s" % (r.kind.qualified if r.kind.custom else r.kind.resource,
                                                   "/".join(filter(None, (r.ns, r.name))))
                raise conflict(r.kind, r.name, "StorageError: invalid object, Code: 4, Key: %s, ResourceVersion: 0, "
                               "AdditionalErrorMsg: Precondition failed: %s" % (storage_key, why))
            gone = st.write(*key, None)
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": details(name=r.name, group=r.kind.group, kind=r.kind.resource,
                                        uid=gone["metadata"].get("uid", ""))}

    # ---- watches ----

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def cut(self):
        """Drops the connection without ending the chunked body (or without
        any answer)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def watch_start(self, r, q, terms):
        """Where the watch begins in the history, or None for too old."""
        st = self.state
        rv = q.get("resourceVersion", "")
        if rv in ("", "0"):
            return len(st.history), [("ADDED", copy.deepcopy(o)) for o in self.matching(r, terms)]
        if not rv.isdigit() or int(rv) < st.compacted:
            return None, []
        start = 0
        while start < len(st.history) and (st.history[start][0] <= int(rv) or st.history[start][1] == "BOOKMARK"):
            start += 1
        return start, []

    # "Efficient detection of changes" and "Watch bookmarks"
    def watch(self, r, q):
        st = self.state
        try:
            terms = field_selector(q.get("fieldSelector"))
        except ApiError as e:
            return self.send_json(400, e.status)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        deadline = time.monotonic() + min(int(q.get("timeoutSeconds", "1800") or 1800), 1800)
        with st.cond:
            st.counts["watches"] += 1
            cursor, initial = self.watch_start(r, q, terms)
            cuts, errors = st.cuts, st.errors
            if cursor is None:
                st.counts["gone"] += 1
        too_old = status(410, "Expired", "too old resource version: %s (%d)" % (q.get("resourceVersion"), st.compacted))
        if cursor is None and st.gone_mode == "http":
            return self.send_json(410, too_old)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if cursor is None:
            self.chunk({"type": "ERROR", "object": too_old})
            return self.end_stream()
        for kind, obj in initial:
            self.chunk({"type": kind, "object": obj})
        self.follow(r, terms, cursor, cuts, errors, bookmarks, deadline)

    def follow(self, r, terms, cursor, cuts, errors, bookmarks, deadline):
        st = self.state
        while True:
            with st.cond:
                while (cursor >= len(st.history) and st.cuts == cuts and st.errors == errors
                       and time.monotonic() < deadline):
                    st.cond.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
                if st.cuts != cuts:
                    return self.cut()
                if st.errors != errors:
                    code = st.error_code
                    reason = "Expired" if code == 410 else "InternalError"
                    self.chunk({"type": "ERROR", "object": status(code, reason, "watch closed by the test (%d)" % code)})
                    return self.end_stream()
                if time.monotonic() >= deadline and cursor >= len(st.history):
                    return self.end_stream()
                pending = st.history[cursor:]
                cursor = len(st.history)
            for _, kind, resource, obj in pending:
                if resource != r.kind.resource:
                    continue
                if kind == "BOOKMARK":
                    if bookmarks:
                        self.chunk({"type": kind, "object": obj})
                elif (r.ns is None or obj["metadata"].get("namespace") == r.ns) and selected(obj, terms):
                    self.chunk({"type": kind, "object": obj})

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    # ---- the test's levers ----

    def control(self, cmd, body):
        """The test's levers. Every command answers the server's counts:
        {"lists", "pages", "watches", "unauthorized", "gone", "rv", "objects"
        (DaemonSets held), "calls": {resource: {verb: n}}, "asked": [[resource,
        verb, namespace, name]] (each distinct request as RBAC sees it: see
        authz_name; "" for no namespace or no name)}.
          add {namespace, name}      a fresh DaemonSet: ADDED, or MODIFIED when it exists
          delete {namespace, name}   deletes a DaemonSet (404 when absent)
          bookmark [{resource}]      a BOOKMARK for watches of the resource (daemonsets)
          drop [{add, delete, compact}]  cuts every open watch; the changes and the
                                     compaction happen while the watches are away
          error [{code}]             ends every open watch with an ERROR event (410)
          compact                    forgets the history: older resourceVersions get 410
          config {token, page_size, gone_mode, delay, unavailable}
          latency {resource, verb, seconds}  delays the calls of a resource ("*": any)
                                     and verb (get, list, watch, create, update, patch,
                                     delete; "*": any); seconds 0 removes the rule;
                                     {"clear": true} removes them all
          fault {resource, verb, code, count, seconds}  makes such calls fail with
                                     code (a Status) or "drop" (the connection closed
                                     without an answer), for `count` calls and/or
                                     `seconds`, else until cleared; {"clear": true}
          calls [{reset}]            answers the counts by resource and verb (then
                                     zeroes them with reset)
          object {op, resource, namespace, name, object}  reads (op "get": the answer
                                     holds "object", null when absent), writes ("put":
                                     stored as given, with a new resourceVersion, uid
                                     and creationTimestamp when missing; watches see
                                     it) or deletes ("delete") an object directly
          crd {resource, installed}  installs or uninstalls the CRD of a custom kind
                                     (policyreports): uninstalled, it is served nowhere
                                     (404) and its objects are forgotten
          stats                      just the counts"""
        st = self.state
        extra = {}
        if cmd in ("add", "delete"):
            if not st.change("ADDED" if cmd == "add" else "DELETED", body["namespace"], body["name"]):
                return self.send_json(404, {"error": "no such DaemonSet"})
        elif cmd == "bookmark":
            st.bookmark(body.get("resource", "daemonsets"))
        elif cmd in ("drop", "error", "compact", "config", "latency", "fault", "calls"):
            with st.cond:
                self.apply_control(cmd, body)
                st.cond.notify_all()
        elif cmd == "crd":
            kind = BY_RESOURCE.get(body.get("resource"))
            if kind is None or not kind.custom:
                return self.send_json(400, {"error": "crd needs the resource of a custom kind"})
            with st.cond:
                if body.get("installed", True):
                    st.uninstalled.discard(kind.resource)
                else:
                    st.uninstalled.add(kind.resource)
                    for key in [k for k in st.objects if k[0] == kind.resource]:
                        del st.objects[key]
        elif cmd == "object":
            try:
                extra = self.object_control(body)
            except (KeyError, ValueError) as e:
                return self.send_json(400, {"error": "bad object command: %s" % e})
        elif cmd != "stats":
            return self.send_json(404, {"error": "unknown command " + cmd})
        with st.cond:
            answer = dict(st.counts, rv=st.rv, objects=st.daemonset_count(), calls=copy.deepcopy(st.calls),
                          asked=sorted(st.asked), **extra)
            if cmd == "calls" and body.get("reset"):
                st.calls.clear()
                st.asked.clear()
        self.send_json(200, answer)

    def apply_control(self, cmd, body):
        st = self.state
        if cmd == "drop":
            # Changes made in the same breath as the cut reach no open watch:
            # they happen while the client is away.
            for ns, name in body.get("add", []):
                st.change("ADDED", ns, name)
            for ns, name in body.get("delete", []):
                st.change("DELETED", ns, name)
            if body.get("compact"):
                st.compacted = st.rv
                st.continues.clear()
            st.cuts += 1
        elif cmd == "error":
            st.error_code = int(body.get("code", 410))
            st.errors += 1
        elif cmd == "compact":
            st.compacted = st.rv
            st.continues.clear()
        elif cmd == "latency":
            if body.get("clear"):
                st.latency = []
                return
            rule = {"resource": body.get("resource", "*"), "verb": body.get("verb", "*"),
                    "seconds": float(body.get("seconds", 0))}
            st.latency = [x for x in st.latency if (x["resource"], x["verb"]) != (rule["resource"], rule["verb"])]
            if rule["seconds"] > 0:
                st.latency.append(rule)
        elif cmd == "fault":
            if body.get("clear"):
                st.faults = []
                return
            code = body.get("code", 500)
            st.faults.append({"resource": body.get("resource", "*"), "verb": body.get("verb", "*"),
                              "code": code if code == "drop" else int(code), "count": int(body.get("count", -1)),
                              "until": time.monotonic() + float(body["seconds"]) if "seconds" in body else None})
        elif cmd == "calls":
            pass  # answered (and reset) by control()
        else:
            for key in ("token", "page_size", "gone_mode", "delay", "unavailable"):
                if key in body:
                    setattr(st, key, body[key])

    def object_control(self, body):
        """The "object" command: direct reads and writes of the store."""
        st = self.state
        kind = BY_RESOURCE[body["resource"]]
        ns = body.get("namespace", "") if kind.namespaced else ""
        key = (kind.resource, ns, body["name"])
        op = body.get("op", "get")
        with st.cond:
            if op == "get":
                obj = st.objects.get(key)
                return {"object": copy.deepcopy(obj)}
            if op == "delete":
                return {"object": st.write(*key, None)}
            if op != "put":
                raise ValueError("op must be get, put or delete")
            obj = copy.deepcopy(body["object"])
            obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
            meta = obj.setdefault("metadata", {})
            meta["name"] = body["name"]
            if kind.namespaced:
                meta["namespace"] = ns
            old = st.objects.get(key)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", old["metadata"]["creationTimestamp"] if old else now_rfc3339())
            return {"object": st.write(*key, obj)}


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client goes away mid-answer (the tests cut watches)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and localhost, and a client
    certificate, all made with the openssl CLI."""
    p = {n: os.path.join(d, n) for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt",
                                          "client.key", "client.csr", "client.crt", "ext.cnf")}
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", p["ca.key"], "-out", p["ca.crt"], "-days", "2",
            "-subj", "/CN=fake-apiserver-ca")
    with open(p["ext.cnf"], "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who, subj in (("server", "/CN=fake-apiserver"), ("client", "/CN=dsguard-test/O=system:masters")):
        openssl("req", "-new", *ec, "-keyout", p[who + ".key"], "-out", p[who + ".csr"], "-subj", subj)
        extra = ["-extfile", p["ext.cnf"]] if who == "server" else []
        openssl("x509", "-req", "-in", p[who + ".csr"], "-CA", p["ca.crt"], "-CAkey", p["ca.key"],
                "-CAcreateserial", "-days", "2", "-out", p[who + ".crt"], *extra)
    return p


def serve(d, seeds, port=0):
    """Starts the server in a thread. Returns (server, state, info)."""
    paths = make_certs(d)
    st = State(secrets.token_hex(16))
    for seed in seeds:
        ns, name = seed.split("/", 1)
        st.change("ADDED", ns, name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.crt"], paths["server.key"])
    ctx.load_verify_locations(paths["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    handler = type("BoundHandler", (Handler,), {"state": st})
    server = QuietServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = {"url": "https://127.0.0.1:%d" % server.server_address[1], "ca": paths["ca.crt"], "token": st.token,
            "client_cert": paths["client.crt"], "client_key": paths["client.key"]}
    return server, st, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="where the certificates go")
    ap.add_argument("--seed", action="append", default=[], help="a DaemonSet NS/NAME present at start")
    args = ap.parse_args()
    server, _, info = serve(args.dir, args.seed)
    print(json.dumps(info), flush=True)
    try:
        sys.stdin.read()  # runs until the test closes our standard input
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
