"""Checks HTTP responses against docs/openapi.yaml.

The black-box client (parley_api.ApiClient) passes every response it gets
through Contract.check(), so a test fails when the server answers something
the document does not describe: an unknown route that is not a 404, a
documented path answering a method it does not list, a status code the
operation does not list, a body that does not match the schema, a missing
required header. That keeps the document and the code from drifting apart.

Rules, beyond plain OpenAPI (they are stated in the document's description
and its root `x-parley-global-responses` object):

* Paths are matched after the server's own normalisation: the query string
  is dropped, trailing slashes are ignored, and `/api/...` is an alias of
  `/api/v1/...`. Literal segments win over `{param}` segments.
* A path matching no template must answer `unmatchedRoute` (404).
* A documented path with an undocumented method must answer
  `methodNotAllowed` (405) with an `Allow` header listing exactly the
  documented methods (HEAD and OPTIONS aside), except OPTIONS, which may
  answer `options` (204, same Allow rule). HEAD is checked as GET without
  a body.
* The status is looked up as "418", then "4XX", then "default", then in
  `anyOperation`.
* JSON bodies are parsed strictly (duplicate keys, NaN are errors) and
  validated with JSON Schema 2020-12, local `#/components/...` references
  resolved against the whole document.

Only the Python standard library, PyYAML and jsonschema (Debian 12 ships
4.10, which has RefResolver but not `referencing`) are needed.
"""

import json
import re
import urllib.parse

import jsonschema
import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


class ContractViolation(AssertionError):
    """The response does not match docs/openapi.yaml."""


def media_type(content_type):
    """'Application/JSON; charset=utf-8' -> 'application/json'."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def content_type_params(content_type):
    """'text/plain; version=0.0.4; charset=UTF-8' -> {'version': '0.0.4', 'charset': 'utf-8'}."""
    params = {}
    for part in (content_type or "").split(";")[1:]:
        if "=" in part:
            k, v = part.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return params


def is_json_media(mt):
    return bool(_JSON_TYPE.match(mt))


def strict_json_loads(data):
    """json.loads that rejects duplicate keys and NaN/Infinity."""
    def pairs(items):
        obj = {}
        for k, v in items:
            if k in obj:
                raise ValueError("duplicate key %r" % k)
            obj[k] = v
        return obj

    def bad_constant(name):
        raise ValueError("non-standard JSON constant %s" % name)

    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, object_pairs_hook=pairs, parse_constant=bad_constant)


def normalize_path(path):
    """Request path as the router sees it (see src/core/router.c)."""
    path = urllib.parse.urlsplit(path).path or "/"
    while len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if (path == "/api" or path.startswith("/api/")) and not (
            path == "/api/v1" or path.startswith("/api/v1/")):
        path = "/api/v1" + path[4:]
    return path


class _Template:
    def __init__(self, template, item):
        self.template = template
        self.item = item
        parts = re.split(r"(\{[^}/]+\})", template)
        rx = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p)
                      for p in parts if p)
        self.regex = re.compile("^" + rx + "$")
        # Sort key: per segment 0 for literal, 1 for templated; the lowest wins.
        self.rank = tuple(0 if "{" not in seg else 1 for seg in template.split("/"))

    def methods(self):
        return {m.upper() for m in self.item if m in HTTP_METHODS}


class Contract:
    def __init__(self, doc_path):
        self.doc_path = str(doc_path)
        with open(doc_path, "rb") as f:
            self.raw = f.read()
        self.doc = yaml.safe_load(self.raw)
        self.templates = [_Template(t, item) for t, item in (self.doc.get("paths") or {}).items()]
        self.globals = self.doc.get("x-parley-global-responses") or {}
        self._resolver = jsonschema.RefResolver(base_uri="", referrer=self.doc)
        self._validators = {}
        self._format_checker = jsonschema.Draft202012Validator.FORMAT_CHECKER

    # ------------------------------------------------------------ lookup
    def resolve(self, obj):
        """Follows local $ref chains ('#/components/...')."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if ref in seen:
                raise ContractViolation("circular $ref %s" % ref)
            seen.add(ref)
            obj = self.pointer(ref)
        return obj

    def pointer(self, ref):
        if not ref.startswith("#/"):
            raise ContractViolation("only local $refs are supported, not %r" % ref)
        node = self.doc
        for tok in ref[2:].split("/"):
            tok = urllib.parse.unquote(tok).replace("~1", "/").replace("~0", "~")
            try:
                node = node[tok]
            except (KeyError, TypeError):
                raise ContractViolation("unresolvable $ref %r in %s" % (ref, self.doc_path))
        return node

    def match(self, path):
        """The _Template matching a request path (normalised), or None."""
        norm = normalize_path(path)
        hits = [t for t in self.templates if t.regex.match(norm)]
        if not hits:
            return None
        return min(hits, key=lambda t: t.rank)

    def operation(self, method, path):
        """(template string, operation dict) or (template, None) or (None, None)."""
        t = self.match(path)
        if t is None:
            return None, None
        return t.template, t.item.get(method.lower())

    @staticmethod
    def _lookup_status(responses, status):
        responses = {str(k).upper(): v for k, v in (responses or {}).items()}
        for key in (str(status), "%dXX" % (status // 100), "DEFAULT"):
            if key in responses:
                return key, responses[key]
        return None, None

    def response_spec(self, method, path, status):
        """Where the response for (method, path, status) is documented.

        Returns (description, spec) with spec resolved; raises
        ContractViolation when it is not documented.
        """
        method = method.upper()
        t = self.match(path)
        if t is None:
            ref = self.globals.get("unmatchedRoute")
            if status == 404 and ref:
                return "unmatched route", self.resolve({"$ref": ref})
            raise ContractViolation(
                "%s %s: no path in %s matches %r, so the server must answer 404, "
                "but it answered %d (document the route?)"
                % (method, path, self.doc_path, normalize_path(path), status))
        op = t.item.get(method.lower())
        if op is None and method == "HEAD":
            op = t.item.get("get")
        if op is None and method == "OPTIONS" and status == 204 and self.globals.get("options"):
            return "OPTIONS on %s" % t.template, self.resolve({"$ref": self.globals["options"]})
        if op is None:
            ref = self.globals.get("methodNotAllowed")
            if status == 405 and ref:
                return "method not allowed on %s" % t.template, self.resolve({"$ref": ref})
            raise ContractViolation(
                "%s %s: %s documents only %s, so the server must answer 405, but it "
                "answered %d (document the method?)"
                % (method, path, t.template, ", ".join(sorted(t.methods())), status))
        key, spec = self._lookup_status(op.get("responses"), status)
        if spec is None:
            key, spec = self._lookup_status(self.globals.get("anyOperation"), status)
            if spec is not None:
                spec = {"$ref": spec} if isinstance(spec, str) else spec
        if spec is None:
            documented = sorted(str(k) for k in (op.get("responses") or {}))
            raise ContractViolation(
                "%s %s (%s %s): status %d is not documented (documented: %s)"
                % (method, path, method, t.template, status, ", ".join(documented)))
        return "%s %s -> %s" % (method, t.template, key), self.resolve(spec)

    # -------------------------------------------------------- validation
    def validator(self, schema):
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            v = jsonschema.Draft202012Validator(
                schema, resolver=self._resolver, format_checker=self._format_checker)
            self._validators[key] = (v, schema)  # keep schema alive so id() stays unique
            return v
        return v[0]

    def validate_schema(self, instance, schema, what):
        errors = sorted(self.validator(schema).iter_errors(instance),
                        key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for e in errors[:8]:
                where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                lines.append("  at %s: %s" % (where, e.message))
                for sub in sorted(e.context or [], key=lambda s: list(s.absolute_path))[:6]:
                    subwhere = "/".join(str(p) for p in sub.absolute_path) or "(root)"
                    lines.append("      - at %s: %s" % (subwhere, sub.message))
            raise ContractViolation("%s does not match its schema:\n%s" % (what, "\n".join(lines)))

    @staticmethod
    def _coerce_header(value, schema):
        t = schema.get("type")
        if t == "integer":
            try:
                return int(value.strip())
            except ValueError:
                return value
        if t == "number":
            try:
                return float(value.strip())
            except ValueError:
                return value
        return value

    def check(self, method, path, status, headers, body):
        """Raises ContractViolation unless the response matches the document.

        headers: case-insensitive mapping (requests' CaseInsensitiveDict).
        body: bytes. Returns the parsed JSON body (or None).
        """
        method = method.upper()
        what, spec = self.response_spec(method, path, status)
        where = "%s %s [%d, %s]" % (method, path, status, what)

        for name, h in (spec.get("headers") or {}).items():
            h = self.resolve(h)
            value = headers.get(name)
            if value is None:
                if h.get("required"):
                    raise ContractViolation("%s: required header %s is missing" % (where, name))
                continue
            schema = h.get("schema")
            if schema is not None:
                self.validate_schema(self._coerce_header(value, self.resolve(schema)), schema,
                                     "%s: header %s=%r" % (where, name, value))

        if (status == 405 or (method == "OPTIONS" and status == 204)) and self.match(path) is not None:
            self._check_allow(path, headers.get("Allow"), where)

        if method == "HEAD":
            return None
        content = spec.get("content")
        if not content:
            if body:
                raise ContractViolation("%s: documented without a body, got %r" % (where, body[:200]))
            return None
        mt = media_type(headers.get("Content-Type"))
        entry = None
        for key, value in content.items():
            k = key.lower()
            if k == mt or k == "*/*" or (k.endswith("/*") and mt.startswith(k[:-1])):
                entry = value
                break
        if entry is None:
            raise ContractViolation("%s: Content-Type %r is not documented (documented: %s)"
                                    % (where, headers.get("Content-Type"), ", ".join(content)))
        if not is_json_media(mt):
            return None
        try:
            parsed = strict_json_loads(body)
        except ValueError as e:  # includes UnicodeDecodeError and JSONDecodeError
            raise ContractViolation("%s: body is not valid JSON (%s): %r" % (where, e, body[:300]))
        schema = entry.get("schema")
        if schema is not None:
            self.validate_schema(parsed, schema, "%s: body %s" % (where, _excerpt(parsed)))
        return parsed

    def _check_allow(self, path, allow, where):
        t = self.match(path)
        if allow is None:
            raise ContractViolation("%s: 405 without an Allow header" % where)
        listed = {m.strip().upper() for m in allow.split(",") if m.strip()}
        ignore = {"HEAD", "OPTIONS"}
        documented = t.methods() - ignore
        if listed - ignore != documented:
            raise ContractViolation(
                "%s: Allow: %s, but %s documents %s" %
                (where, allow, t.template, ", ".join(sorted(documented)) or "nothing"))


def _excerpt(obj, limit=600):
    s = json.dumps(obj, ensure_ascii=False)
    return s if len(s) <= limit else s[:limit] + "..."
