"""pytest plugin: records every validator and matcher call the upstream test suites make.

Loaded with `-p upstream_plugin` before the test modules are imported, so their
`from stix2matcher.matcher import match` picks up the recording wrapper. The recorded
answers are not used as the oracle's answers (build_corpus.py re-asks the oracle); only the
inputs are. Output: JSON lines in $UPSTREAM_RECORD.
"""
import json
import os

import stix2matcher.matcher as matcher_mod
import stix2patterns.validator as validator_mod

_out = open(os.environ["UPSTREAM_RECORD"], "a")


def _record(kind, **kw):
    kw["kind"] = kind
    try:
        _out.write(json.dumps(kw, sort_keys=True) + "\n")
        _out.flush()
    except (TypeError, ValueError):
        pass  # not JSON (e.g. datetime objects): cannot go in the corpus


_orig_match = matcher_mod.match
_orig_validate = validator_mod.validate


def match(pattern, observed_data_sdos, verbose=False, stix_version=matcher_mod.DEFAULT_VERSION):
    if stix_version == "2.1":
        _record("match", pattern=pattern, observations=observed_data_sdos)
    return _orig_match(pattern, observed_data_sdos, verbose, stix_version)


def validate(user_input, stix_version="2.1", ret_errs=False, print_errs=False):
    if stix_version == "2.1" and isinstance(user_input, str):
        _record("validate", pattern=user_input)
    return _orig_validate(user_input, stix_version, ret_errs, print_errs)


matcher_mod.match = match
validator_mod.validate = validate
