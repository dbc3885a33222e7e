"""The live OASIS oracles, wrapped the way the corpus and the checks use them.

- validate(pattern) -> bool: stix2-patterns' validator, STIX 2.1 grammar. A crash of the
  validator counts as a rejection (it crashes on a few inputs, e.g. negative list indexes).
- match(pattern, observations) -> "match" | "no-match" | "error": stix2-matcher in STIX 2.1
  mode. `observations` is the corpus form: a list mixing bundles, observed-data (with
  `object_refs` or a STIX 2.0-style `objects` dictionary) and SCOs; it is converted to the
  one-bundle form the matcher's 2.1 mode requires.
"""
import copy
import json
import signal

from stix2patterns.validator import run_validator
from stix2matcher.matcher import match as _match


def validate(pattern):
    try:
        return not run_validator(pattern, '2.1')
    except Exception:
        return False


def _rewrite_refs(value, mapping):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k.endswith("_ref") and isinstance(v, str):
                out[k] = mapping.get(v, v)
            elif k.endswith("_refs") and isinstance(v, list):
                out[k] = [mapping.get(x, x) if isinstance(x, str) else x for x in v]
            else:
                out[k] = _rewrite_refs(v, mapping)
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v, mapping) for v in value]
    return value


def to_oracle_input(observations):
    """One bundle; 2.0-style `objects` dictionaries become SCOs plus `object_refs`."""
    objects = []
    for item in observations:
        if isinstance(item, dict) and item.get("type") == "bundle":
            objects.extend(item.get("objects", []))
        else:
            objects.append(item)
    out = []
    for n, obj in enumerate(objects):
        if (isinstance(obj, dict) and obj.get("type") == "observed-data"
                and "object_refs" not in obj and isinstance(obj.get("objects"), dict)):
            obj = copy.deepcopy(obj)
            inner = obj.pop("objects")
            mapping = {k: "%s--%d-%s" % (v.get("type", "x") if isinstance(v, dict) else "x", n, k)
                       for k, v in inner.items()}
            obj["object_refs"] = [mapping[k] for k in inner]
            out.append(obj)
            for k, v in inner.items():
                sco = _rewrite_refs(v, mapping)
                if isinstance(sco, dict):
                    sco = dict(sco)
                    sco["id"] = mapping[k]
                out.append(sco)
        else:
            out.append(obj)
    return [{"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": out}]


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def match(pattern, observations, timeout=10):
    """Runs stix2-matcher; "error" for any exception (including a time-out)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        return "match" if _match(pattern, to_oracle_input(observations), stix_version="2.1") else "no-match"
    except Exception:
        return "error"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
