"""Shaping the document apispec generated (core.api.openapi) into one a client generator reads
well: nullable references the 3.0 way, documented-as references, named enums, `required` on
what is only ever answered, parameter descriptions and an example per body and answer."""

from __future__ import annotations

import re

REF = "#/components/schemas/"


PARAMETER_DESCRIPTIONS = {
    "cursor": "Where the page starts: the `next_cursor` of the previous page (omit for the first page). "
              "Pages are stable under inserts.",
    "limit": "How many items at most on this page.",
    "store": "A store's code. A till token acts in its own store (may be omitted); a person naming a store "
             "must work there.",
    "code": "A store's code (path), or a full card number (query).",
    "name": "A module's (plugin's) name, as in GET /plugins.",
    "q": "Text to search for in names (and exact codes, SKUs or barcodes).",
    "phone": "The full phone number, in any common spelling (exact match on the normalised number).",
    "reveal": "Unmask personal data (managers and owners only; audited).",
    "category": "Only this category.",
    "tag": "Only customers with this tag.",
    "status": "Only records in this state.",
    "customer_id": "The customer's id.",
    "updated_since": "Only records changed at or after this time (ISO 8601 with offset).",
}


STRING_EXAMPLES = {
    "sku": "LATTE-M", "store": "SH001", "home_store": "SH001", "external_id": "till-3-000123",
    "phone": "13800138000", "email": "ada@example.com", "name": "王小明", "currency": "CNY",
    "timezone": "Asia/Shanghai", "reason": "wrong size", "staff": "alice", "method": "wechat_pay",
    "barcode": "6901234567890", "code": "SH001", "cursor": "eyJhZnRlciI6IDUwfQ", "next_cursor": "eyJhZnRlciI6IDUwfQ",
    "message": "The request has invalid fields.", "birthday": "1990-05-17", "channel": "sms", "month": "2026-11",
}


def _walk(node, visit):
    """Call `visit(dict)` on every dict of `node`, depth first, replacing it with what it returns."""
    if isinstance(node, dict):
        node = visit(node)
        return {k: _walk(v, visit) for k, v in node.items()} if isinstance(node, dict) else node
    if isinstance(node, list):
        return [_walk(v, visit) for v in node]
    return node


def nullable_refs(doc: dict) -> None:
    """apispec writes a nullable Nested as `anyOf: [$ref, {nullable}]`, which generators read as an
    anonymous class: write it the 3.0 way, `allOf: [$ref]` with `nullable: true`."""
    def visit(node):
        any_of = node.get("anyOf")
        if isinstance(any_of, list) and len(any_of) == 2:
            refs = [s for s in any_of if "$ref" in s]
            nulls = [s for s in any_of if s.get("nullable") and "$ref" not in s and len(s) <= 2]
            if len(refs) == 1 and len(nulls) == 1:
                rest = {k: v for k, v in node.items() if k != "anyOf"}
                return {**rest, "allOf": refs, "nullable": True}
        return node
    doc["components"]["schemas"] = _walk(doc["components"]["schemas"], visit)
    doc["paths"] = _walk(doc["paths"], visit)


def x_refs(doc: dict) -> None:
    """A field declared with metadata {"x-ref": "Name"} is documented as that component (a
    batch's items are loaded one by one, so each gets its own result, yet are each a SaleIn)."""
    def visit(node):
        name = node.get("x-ref")
        if not name:
            return node
        ref = {"$ref": REF + name}
        if node.get("nullable"):
            return {"allOf": [ref], "nullable": True}
        return ref
    doc["components"]["schemas"] = _walk(doc["components"]["schemas"], visit)


ENUM_BASE_SUFFIXES = ("Create", "Patch", "Query", "Schema", "Brief", "In", "Out")


def _enum_base(component: str) -> str:
    for suffix in ENUM_BASE_SUFFIXES:
        if component.endswith(suffix) and len(component) > len(suffix):
            return component[: -len(suffix)]
    return component


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\W]+", name) if part)


def named_enums(doc: dict) -> None:
    """Each closed set of the components becomes a named enum component (`SaleStatus`,
    `PaymentMethod`, `ErrorCode`), referenced where it is used; a nullable one as
    `allOf: [$ref]` + `nullable`. A generator then makes one enum class per set, typed
    `SaleStatus` or `Gender | None`, instead of an anonymous union per field."""
    schemas = doc["components"]["schemas"]
    named: dict[str, tuple] = {}

    def component_for(owner: str, prop: str, spec: dict) -> str:
        values = tuple(v for v in spec["enum"] if v is not None)
        name = spec.get("x-enum-name") or _enum_base(owner) + pascal(prop)
        if name in named and named[name] != values:
            name = owner + pascal(prop)
        named[name] = values
        schemas.setdefault(name, {"type": spec.get("type", "string"), "enum": list(values)})
        return name

    def replaced(owner: str, prop: str, spec: dict) -> dict:
        if spec.get("type") == "array" and isinstance(spec.get("items"), dict) and spec["items"].get("enum"):
            return {**spec, "items": replaced(owner, prop, spec["items"])}
        if not spec.get("enum") or spec.get("type") not in ("string", "integer"):
            return spec
        ref = {"$ref": REF + component_for(owner, prop, spec)}
        keep = {k: v for k, v in spec.items() if k in ("description", "readOnly", "writeOnly", "default", "example")}
        if spec.get("nullable") or None in spec["enum"]:
            return {"allOf": [ref], "nullable": True, **keep}
        return {"allOf": [ref], **keep} if keep else ref

    for owner in list(schemas):
        props = schemas[owner].get("properties") or {}
        for prop, spec in list(props.items()):
            props[prop] = replaced(owner, prop, spec)


def _refs_in(node, found: set) -> set:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            found.add(ref[len(REF):])
        for value in node.values():
            _refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs_in(value, found)
    return found


def _closure(names: set, schemas: dict) -> set:
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        todo.extend(_refs_in(schemas[name], set()) - seen)
    return seen


def optional_fields(plugin) -> dict[str, set[str]]:
    """Component name -> output fields that may be absent (metadata {"optional": True})."""
    out: dict[str, set[str]] = {}
    for key, name in plugin.converter.refs.items():
        cls = key[0] if isinstance(key, tuple) else key  # apispec's key: (schema class, modifiers...)
        cls = cls if isinstance(cls, type) else type(cls)
        fields = getattr(cls, "_declared_fields", {})
        out[name] = {(f.data_key or n) for n, f in fields.items() if f.metadata.get("optional") or f.load_only}
    return out


def require_output_fields(doc: dict, optional: dict[str, set[str]]) -> None:
    """Schemas only ever answered (never sent) list every field as required, except those that
    may be absent: a generated client then types them `T` (or `T | None`), not `T | Unset`."""
    schemas = doc["components"]["schemas"]
    sent, answered = set(), set()
    for operations in doc["paths"].values():
        for op in operations.values():
            _refs_in({k: v for k, v in op.items() if k != "responses"}, sent)
            _refs_in(op.get("responses", {}), answered)
    only_answered = _closure(answered, schemas) - _closure(sent, schemas) - {"Error", "ErrorDetail"}
    for name in only_answered:
        schema = schemas[name]
        props = schema.get("properties") or {}
        required = [p for p in props if p not in optional.get(name, set())]
        if required:
            schema["required"] = required


def describe_parameters(doc: dict) -> None:
    for operations in doc["paths"].values():
        for op in operations.values():
            for param in op.get("parameters", []):
                if "$ref" in param or param.get("description"):
                    continue
                name = param["name"]
                param["description"] = PARAMETER_DESCRIPTIONS.get(
                    name, f"Only those whose {name.replace('_', ' ')} is this value.")


def add_examples(doc: dict) -> None:
    """An example for every request body and answer that has none, made from its schema."""
    schemas = doc["components"]["schemas"]
    for operations in doc["paths"].values():
        for op in operations.values():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media is not None and "example" not in media:
                media["example"] = example_of(media["schema"], schemas, request=True)
            for status, response in op["responses"].items():
                media = response.get("content", {}).get("application/json")
                if media is not None and "example" not in media and not status.startswith(("4", "5")):
                    media["example"] = example_of(media["schema"], schemas, request=False)


def example_of(schema: dict, schemas: dict, *, request: bool, name: str = "", depth: int = 0):
    """A plausible value for `schema`: its own example, its first enum value, else by type and name.
    A request example fills only the required fields (and the first of alternatives)."""
    if depth > 6:
        return None
    if "$ref" in schema:
        target = schema["$ref"][len(REF):]
        return example_of(schemas.get(target, {}), schemas, request=request, name=name, depth=depth + 1)
    for combinator in ("allOf", "anyOf", "oneOf"):
        if schema.get(combinator):
            return example_of(schema[combinator][0], schemas, request=request, name=name, depth=depth + 1)
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties") or {}
        keep = set(schema.get("required", [])) if request else set(props)
        return {key: example_of(sub, schemas, request=request, name=key, depth=depth + 1)
                for key, sub in props.items() if key in keep}
    if kind == "array":
        return [example_of(schema.get("items", {}), schemas, request=request, name=name, depth=depth + 1)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return schema.get("minimum", 1) if schema.get("minimum", 0) > 0 else 1
    if kind == "boolean":
        return True
    fmt = schema.get("format")
    if fmt == "decimal":
        return "28.00"
    if fmt == "date-time":
        return "2026-11-22T10:15:00+08:00"
    if fmt == "date":
        return "2026-11-22"
    if fmt == "email":
        return "ada@example.com"
    return STRING_EXAMPLES.get(name, name.replace("_", " ") or "text")
