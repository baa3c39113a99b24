"""Validates Kubernetes objects against the API's schemas, strictly.

The schemas are the models of Debian's python3-kubernetes (the OpenAPI
definitions of the API it was generated from). validate() walks an object
with its model: every field must be one the API defines (an unknown or
misspelt field is an error, where kubectl would drop it and a server with
strict field validation would refuse it), every value must have the field's
type, and the model's constructor must accept it, which checks the required
fields. Prometheus Operator and cert-manager kinds are not in
python3-kubernetes; small schemas written from their CRDs cover the
ServiceMonitor and Certificate fields the chart uses.
"""

import re

from kubernetes import client

# apiVersion, kind -> python3-kubernetes model.
MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "Service"): "V1Service",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
}

# Fields whose values are resource.Quantity: a string or a number.
QUANTITY_PARENTS = {"limits", "requests", "capacity", "hard"}
QUANTITY_FIELDS = {"sizeLimit", "storage"}

# monitoring.coreos.com/v1 ServiceMonitor, the part the chart uses: field ->
# type, where a type is a Python type, a nested dict schema, or a one-item
# list of a schema. "required" lists required fields.
_LABEL_SELECTOR = {
    "matchLabels": {"*": str},
    "matchExpressions": [{"key": str, "operator": str, "values": [str], "required": ["key", "operator"]}],
}
_RELABEL = {
    "sourceLabels": [str], "separator": str, "targetLabel": str, "regex": str,
    "modulus": int, "replacement": str, "action": str,
}
_SECRET_KEY_SELECTOR = {"name": str, "key": str, "optional": bool, "required": ["key"]}
_SECRET_OR_CONFIGMAP = {"secret": _SECRET_KEY_SELECTOR, "configMap": _SECRET_KEY_SELECTOR}
_TLS_CONFIG = {
    "ca": _SECRET_OR_CONFIGMAP, "cert": _SECRET_OR_CONFIGMAP, "keySecret": _SECRET_KEY_SELECTOR,
    "serverName": str, "insecureSkipVerify": bool,
}
SERVICE_MONITOR = {
    "apiVersion": str, "kind": str,
    "metadata": {"name": str, "namespace": str, "labels": {"*": str}, "annotations": {"*": str},
                 "required": ["name"]},
    "spec": {
        "jobLabel": str, "targetLabels": [str], "podTargetLabels": [str],
        "selector": _LABEL_SELECTOR,
        "namespaceSelector": {"any": bool, "matchNames": [str]},
        "endpoints": [{
            "port": str, "targetPort": (int, str), "path": str, "scheme": str,
            "interval": str, "scrapeTimeout": str, "honorLabels": bool,
            "honorTimestamps": bool, "relabelings": [_RELABEL],
            "metricRelabelings": [_RELABEL], "params": {"*": [str]},
            "tlsConfig": _TLS_CONFIG,
            "authorization": {"type": str, "credentials": _SECRET_KEY_SELECTOR},
        }],
        "sampleLimit": int,
        "required": ["selector", "endpoints"],
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
}
# cert-manager.io/v1 Certificate, the part the chart uses, from its CRD.
CERTIFICATE = {
    "apiVersion": str, "kind": str,
    "metadata": {"name": str, "namespace": str, "labels": {"*": str}, "annotations": {"*": str},
                 "required": ["name"]},
    "spec": {
        "secretName": str, "commonName": str, "dnsNames": [str], "ipAddresses": [str],
        "uris": [str], "duration": str, "renewBefore": str, "isCA": bool, "usages": [str],
        "privateKey": {"algorithm": str, "encoding": str, "size": int, "rotationPolicy": str},
        "issuerRef": {"name": str, "kind": str, "group": str, "required": ["name"]},
        "required": ["secretName", "issuerRef"],
    },
    "required": ["apiVersion", "kind", "metadata", "spec"],
}
# Key usages cert-manager accepts (the CRD's enum, in part).
CERTIFICATE_USAGES = {"digital signature", "key encipherment", "server auth", "client auth"}
CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("cert-manager.io/v1", "Certificate"): CERTIFICATE,
}

_DURATION = re.compile(r"^(([0-9]+)(y|w|d|h|m|s|ms))+$")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")


class SchemaError(Exception):
    pass


def _model(name):
    return getattr(client, name)


def _check(value, type_str, path, errors):
    if value is None:
        return  # null is "not set"; required fields are the constructor's to check
    if type_str.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: want a list, got {type(value).__name__}")
            return
        inner = type_str[5:-1]
        for i, item in enumerate(value):
            _check(item, inner, f"{path}[{i}]", errors)
    elif type_str.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: want a mapping, got {type(value).__name__}")
            return
        inner = type_str[type_str.index(",") + 1:-1].strip()
        parent = path.rsplit(".", 1)[-1]
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(f"{path}: key {k!r} is not a string")
            if inner == "str" and parent in QUANTITY_PARENTS and isinstance(v, (int, float)) \
                    and not isinstance(v, bool):
                continue
            _check(v, inner, f"{path}.{k}", errors)
    elif type_str == "str":
        if path.rsplit(".", 1)[-1] in QUANTITY_FIELDS and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            return
        if not isinstance(value, str):
            errors.append(f"{path}: want a string, got {type(value).__name__} {value!r}")
    elif type_str == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: want an integer, got {type(value).__name__} {value!r}")
    elif type_str == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{path}: want a number, got {type(value).__name__} {value!r}")
    elif type_str == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: want true or false, got {type(value).__name__} {value!r}")
    elif type_str in ("datetime", "date"):
        if not isinstance(value, str):
            errors.append(f"{path}: want a timestamp string, got {value!r}")
    elif type_str == "object":
        # IntOrString and free-form fields.
        if not isinstance(value, (str, int, dict, list)) or isinstance(value, bool):
            errors.append(f"{path}: want a string or an integer, got {value!r}")
    else:
        klass = _model(type_str)
        if not isinstance(value, dict):
            errors.append(f"{path}: want a {type_str} mapping, got {type(value).__name__}")
            return
        by_json = {j: a for a, j in klass.attribute_map.items()}
        for key, v in value.items():
            if key not in by_json:
                errors.append(f"{path}: unknown field {key!r} (not in {type_str})")
                continue
            _check(v, klass.openapi_types[by_json[key]], f"{path}.{key}", errors)


def _check_custom(value, schema, path, errors):
    if isinstance(schema, list):
        if not isinstance(value, list):
            errors.append(f"{path}: want a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check_custom(item, schema[0], f"{path}[{i}]", errors)
    elif isinstance(schema, dict):
        if not isinstance(value, dict):
            errors.append(f"{path}: want a mapping, got {type(value).__name__}")
            return
        for key in schema.get("required", []):
            if value.get(key) is None:
                errors.append(f"{path}: required field {key!r} is missing")
        for key, v in value.items():
            sub = schema.get(key, schema.get("*"))
            if sub is None or key == "required":
                errors.append(f"{path}: unknown field {key!r}")
                continue
            _check_custom(v, sub, f"{path}.{key}", errors)
    else:
        if not isinstance(value, schema) or (isinstance(value, bool) and schema is not bool):
            errors.append(f"{path}: want {schema}, got {type(value).__name__} {value!r}")
        elif path.endswith((".interval", ".scrapeTimeout")) and not _DURATION.match(value):
            errors.append(f"{path}: {value!r} is not a Prometheus duration")
        elif path.startswith("Certificate") and path.endswith((".duration", ".renewBefore")) \
                and not _GO_DURATION.match(value):
            errors.append(f"{path}: {value!r} is not a Go duration")
        elif path.startswith("Certificate") and re.search(r"\.usages\[\d+\]$", path) \
                and value not in CERTIFICATE_USAGES:
            errors.append(f"{path}: {value!r} is not a key usage cert-manager knows")


def validate(obj):
    """Raises SchemaError listing every problem of one object."""
    if not isinstance(obj, dict):
        raise SchemaError(f"not a mapping: {obj!r}")
    key = (obj.get("apiVersion"), obj.get("kind"))
    name = f"{key[1]} {obj.get('metadata', {}).get('name')!r}"
    errors = []
    if key in CUSTOM:
        _check_custom(obj, CUSTOM[key], name, errors)
    elif key in MODELS:
        _check(obj, MODELS[key], name, errors)
        if not errors:
            try:
                client.ApiClient()._ApiClient__deserialize(obj, MODELS[key])
            except (ValueError, TypeError) as e:
                errors.append(f"{name}: {e}")
    else:
        errors.append(f"{name}: no schema for apiVersion {key[0]!r} kind {key[1]!r}")
    if errors:
        raise SchemaError("\n".join(errors))
