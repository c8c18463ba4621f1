"""The targets file of ``awssignin deploy elastic --targets FILE``: the Kibanas (stacks or spaces)
one deploy goes to.

```yaml
- name: prod-secops                 # unique; names the target in the result table
  kibana_url: https://kibana.prod.example:5601
  space: secops                     # optional, default space when absent
  index: [logs-aws.cloudtrail-prod-*]   # optional: replaces every rule's index patterns
  api_key_env: PROD_KIBANA_API_KEY  # the NAME of the variable holding the encoded API key ...
- name: lab
  kibana_url: https://kibana.lab.example:5601
  username_env: LAB_KIBANA_USER     # ... or the names of the user and password variables
  password_env: LAB_KIBANA_PASSWORD
  ca_cert: certs/lab-ca.pem         # optional; relative to the targets file
```

Credentials never appear in the file, only the names of environment variables; a value that
looks like a secret where a variable name belongs is refused without being echoed. Every error
names the file, the line and the field (harness/yamlload.py records the line of every field).
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..detections import DetectionError
from ..yamlload import load_with_lines
from .kibana_api import DeployError

KEYS = {"name", "kibana_url", "space", "index", "api_key_env", "username_env", "password_env", "ca_cert",
        "insecure"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass
class Target:
    name: str
    kibana_url: str
    space: Optional[str] = None
    index: List[str] = field(default_factory=list)
    api_key_env: Optional[str] = None
    username_env: Optional[str] = None
    password_env: Optional[str] = None
    ca_cert: Optional[str] = None
    insecure: bool = False


def _fail(path, lines, where, message):
    raise DeployError(str(DetectionError(path, where, message, lines.get(where))))


def load_targets(path):
    """[Target] from a YAML file; DeployError naming file, line and field on any problem."""
    from .deploy import kibana_base   # the URL and space rules are deploy's

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeployError("no targets file at %s" % path)
    except (OSError, UnicodeDecodeError) as err:
        raise DeployError("cannot read the targets file %s: %s" % (path, getattr(err, "strerror", None) or err))
    try:
        data, lines = load_with_lines(text, path)
    except DetectionError as err:
        raise DeployError(str(err))
    if not isinstance(data, list) or not data:
        _fail(path, lines, "", "a targets file is a non-empty YAML list of targets (name, kibana_url, ...)")
    targets, seen = [], {}
    for i, item in enumerate(data):
        where = "[%d]" % i
        if not isinstance(item, dict):
            _fail(path, lines, where, "a target is a mapping with name, kibana_url and credentials' variable names")
        for key in item:
            if key not in KEYS:
                _fail(path, lines, "%s.%s" % (where, key), "unknown field (known: %s)" % ", ".join(sorted(KEYS)))

        def text_field(key, required=False, pattern=None, what=""):
            value = item.get(key)
            at = "%s.%s" % (where, key)
            if value is None:
                if required:
                    _fail(path, lines, at if at in lines else where, "required")
                return None
            if not isinstance(value, str) or not value.strip():
                _fail(path, lines, at, "must be a non-empty string")
            if pattern is not None and not pattern.match(value):
                # never echo the value: it may be a secret written where a variable name belongs
                _fail(path, lines, at, what)
            return value.strip()

        name = text_field("name", required=True, pattern=_NAME,
                          what="a name of letters, digits, '.', '_' and '-' (at most 63)")
        if name in seen:
            _fail(path, lines, "%s.name" % where, "duplicate target name %r (also at %s)" % (name, seen[name]))
        seen[name] = "%s:%s" % (path, lines.get("%s.name" % where, "?"))
        url = text_field("kibana_url", required=True)
        space = text_field("space")
        try:
            kibana_base(url, space)
        except DeployError as err:
            _fail(path, lines, "%s.%s" % (where, "space" if space and "space" in str(err) else "kibana_url"),
                  str(err).replace("--kibana-url", "kibana_url"))
        env = {key: text_field(key, pattern=_ENV_NAME, what="must be the NAME of an environment variable "
                               "(letters, digits, '_'), never the secret itself")
               for key in ("api_key_env", "username_env", "password_env")}
        if env["api_key_env"] and (env["username_env"] or env["password_env"]):
            _fail(path, lines, "%s.api_key_env" % where, "give either api_key_env or username_env + password_env")
        if bool(env["username_env"]) != bool(env["password_env"]):
            missing = "password_env" if env["username_env"] else "username_env"
            _fail(path, lines, where, "%s is missing (basic auth needs username_env and password_env)" % missing)
        index = item.get("index")
        if index is not None:
            if isinstance(index, str):
                index = [index]
            if not isinstance(index, list) or not index or not all(isinstance(p, str) and p.strip() for p in index):
                _fail(path, lines, "%s.index" % where, "must be a non-empty list of index patterns")
            index = [p.strip() for p in index]
        insecure = item.get("insecure", False)
        if not isinstance(insecure, bool):
            _fail(path, lines, "%s.insecure" % where, "must be true or false")
        ca_cert = text_field("ca_cert")
        if ca_cert:
            resolved = (path.parent / ca_cert) if not Path(ca_cert).is_absolute() else Path(ca_cert)
            if not resolved.is_file():
                _fail(path, lines, "%s.ca_cert" % where, "no such file: %s" % resolved)
            if insecure:
                _fail(path, lines, "%s.insecure" % where, "contradicts ca_cert: choose one")
            ca_cert = str(resolved)
        targets.append(Target(name=name, kibana_url=url, space=space, index=index or [], ca_cert=ca_cert,
                              insecure=insecure, **env))
    return targets
