"""Write the JSON schemas kubeconform checks the chart against, one file per kind.

    python deploy/helm/schemas/generate.py --k8s DIR --crd FILE.yaml [--crd ...]

``--k8s`` is a ``v1.NN.0-local-strict`` folder of the kubernetes-validate wheel (PyPI), whose
schemas point into one shared ``_definitions.json`` by absolute ``$ref``s; kubeconform, which
cannot fetch, needs each kind's file to stand alone, so each gets the definitions it reaches
under its own ``$defs``. ``--crd`` is a CustomResourceDefinition (KEDA's from its Go module,
Strimzi's made by Strimzi's crd-generator from Maven Central); each served version's
``openAPIV3Schema`` becomes a strict JSON schema the way kubeconform's openapi2jsonschema does
it. deploy/helm/schemas/regenerate.sh gets those inputs and runs this; the output is committed,
the inputs are not. Files are named as kubeconform's ``{{.ResourceKind}}{{.KindSuffix}}.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# The kinds the chart renders (and a few it may, such as ServiceMonitor-free core kinds).
K8S_KINDS = [
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "poddisruptionbudget-policy-v1",
    "networkpolicy-networking-v1",
    "job-batch-v1",
]
REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def _refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and (m := REF.match(ref)):
            found.add(m.group(1))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _local_refs(node):
    """The same schema with every reference into _definitions.json made local (``#/$defs/...``)."""
    if isinstance(node, dict):
        out = {k: _local_refs(v) for k, v in node.items()}
        if isinstance(out.get("$ref"), str) and (m := REF.match(out["$ref"])):
            out["$ref"] = f"#/$defs/{m.group(1)}"
        return out
    if isinstance(node, list):
        return [_local_refs(v) for v in node]
    return node


def standalone_k8s(kind_file: Path, definitions: dict) -> dict:
    """A kind's schema with the closure of the definitions it references under ``$defs``."""
    schema = json.loads(kind_file.read_text())
    schema.pop("$id", None)  # its base URL would send relative lookups to the network
    wanted: set[str] = set()
    _refs(schema, wanted)
    closure: set[str] = set()
    while wanted - closure:
        name = (wanted - closure).pop()
        closure.add(name)
        _refs(definitions[name], wanted)
    schema = _local_refs(schema)
    schema["$defs"] = {name: _local_refs(definitions[name]) for name in sorted(closure)}
    return schema


def strict_crd_schema(node, *, top: bool = True):
    """openAPIV3Schema -> JSON schema: nullable, int-or-string, and no unknown fields unless preserved."""
    if isinstance(node, list):
        return [strict_crd_schema(v, top=False) for v in node]
    if not isinstance(node, dict):
        return node
    node = {
        k: strict_crd_schema(v, top=False)
        if k in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not")
        else v
        for k, v in node.items()
    }
    if "properties" in node and isinstance(node["properties"], dict):
        node["properties"] = {k: strict_crd_schema(v, top=False) for k, v in node["properties"].items()}
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    preserved = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserved:
        node["additionalProperties"] = False
    if top:
        node["$schema"] = "http://json-schema.org/draft-04/schema#"
    return node


def crd_schemas(crd_file: Path) -> dict[str, dict]:
    """File name -> schema for each served version of the CRD(s) in ``crd_file``."""
    out: dict[str, dict] = {}
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group = crd["spec"]["group"].split(".")[0]
        kind = crd["spec"]["names"]["kind"].lower()
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            out[f"{kind}-{group}-{version['name']}.json"] = strict_crd_schema(schema)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k8s", type=Path, required=True, help="a kubernetes-validate v1.NN.0-local-strict folder")
    parser.add_argument("--crd", type=Path, action="append", default=[], help="a CRD yaml file (repeatable)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    definitions = json.loads((args.k8s / "_definitions.json").read_text())["$defs"]
    files = {f"{kind}.json": standalone_k8s(args.k8s / f"{kind}.json", definitions) for kind in K8S_KINDS}
    for crd in args.crd:
        files |= crd_schemas(crd)
    for name, schema in sorted(files.items()):
        (args.out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
