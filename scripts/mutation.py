"""Mutation testing of the core modules with mutmut 3 (a developer tool; not run in CI, it is slow).

Each module is mutated in its own scratch copy of the repository (``--work``, default a temp folder), with
only the fast test files that exercise it, so one module's run neither waits for the whole suite nor
collides with another run. mutmut's stats pass maps every test to the functions it reaches, and each
mutant then runs only the tests that reach its function.

    python -m pip install "mutmut>=3.8"
    python scripts/mutation.py                       # every module, one after the other (about an hour)
    python scripts/mutation.py retry sse --jobs 2    # some modules, two mutants at a time
    python scripts/mutation.py retry --show          # the diff of every surviving mutant

The kill rate counts killed (and timed-out) mutants against every checked mutant minus the ones listed in
``EQUIVALENT`` below: mutants that change the code but not its behaviour, so no test can kill them. A new
survivor is either a missing test (write it) or a new equivalent mutant (list it here, with why).

Measured kill rates are recorded in ``docs/mutation.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    path: str  # the module, relative to the repository
    tests: tuple[str, ...]  # the fast tests that cover it


TARGETS: dict[str, Target] = {
    "retry": Target("tokenhot_nb/client/_retry.py", ("tests/test_client_retry.py", "tests/test_client.py")),
    "config": Target("tokenhot_nb/_config.py", ("tests/test_config.py",)),
    "catalog": Target("tokenhot_nb/catalog.py", ("tests/test_catalog.py", "tests/test_catalog_merge.py",
                                                 "tests/test_catalog_classify.py", "tests/test_catalog_price.py")),
    "sse": Target("tokenhot_nb/client/_sse.py", ("tests/test_client_sse.py", "tests/test_client_sse_wire.py",
                                                   "tests/test_families_json.py")),
    "download": Target("tokenhot_nb/client/_download.py", ("tests/test_client_download.py",
                                                              "tests/test_client_net_faults.py")),
    "body": Target("tokenhot_nb/client/_body.py", ("tests/test_client_body.py",)),
    "errors": Target("tokenhot_nb/client/_errors.py", ("tests/test_client_errors.py",)),
    "replay": Target("tokenhot_nb/history/_replay.py", ("tests/test_history_replay.py",)),
}

_ERR = "tokenhot_nb.client._errors.x_"
_SSE = "tokenhot_nb.client._sse."
_DL = "tokenhot_nb.client._download."
_BODY = "tokenhot_nb.client._body."
_NOT_ASCII_KEY = "json.dumps ensure_ascii: only a non-ASCII secret would differ, and a key is ASCII (check_key)"

#: Surviving mutants that cannot change behaviour, by mutmut's mutant name, with the reason. Mutant names
#: are numbered per function, so a change to a function can renumber them: re-check the list after one.
EQUIVALENT: dict[str, dict[str, str]] = {
    "retry": {
        "tokenhot_nb.client._retry.xǁRetryPolicyǁretry_status__mutmut_4":
            "`error.status or 1`: a missing status becomes 1 instead of 0; neither is ever retried",
    },
    "errors": {
        _ERR + "_redacted_body__mutmut_7": _NOT_ASCII_KEY,
        _ERR + "_redacted_body__mutmut_9": _NOT_ASCII_KEY,
        _ERR + "_redacted_body__mutmut_10": _NOT_ASCII_KEY,
        _ERR + "_redacted_body__mutmut_15":
            "always json.loads(cleaned): an equal copy instead of the same object when nothing was redacted",
        _ERR + "_where__mutmut_8": "netloc.decode error handler: httpx already IDNA-encodes hosts, so it is ASCII",
        _ERR + "_where__mutmut_10": "'ASCII' and 'ascii' name the same codec",
        _ERR + "_where__mutmut_11": "netloc.decode error handler: the netloc is always ASCII (see _where__mutmut_8)",
        _ERR + "_where__mutmut_12": "netloc.decode error handler: the netloc is always ASCII (see _where__mutmut_8)",
        _ERR + "error_from_response__mutmut_11":
            "class_for_status(status, None): its code argument only detects quota codes, checked by is_quota first",
        _ERR + "error_from_response__mutmut_13": "as error_from_response__mutmut_11",
        _ERR + "parse_error_body__mutmut_4": "bytes.decode() defaults to UTF-8",
        _ERR + "parse_error_body__mutmut_7": "'UTF-8' and 'utf-8' name the same codec",
        _ERR + "parse_error_body__mutmut_21": "info_from_data(None) is None anyway (not a dict)",
        _ERR + "stream_error_from_data__mutmut_10": "json.dumps(ensure_ascii=None): None is as falsy as False",
        _ERR + "split_request_id__mutmut_4":
            "lstrip for rstrip: the pattern already eats the spaces before '(' and every caller strips first",
    },
    "config": {
        "tokenhot_nb._config.x__say_offline_once__mutmut_5": "warnings.warn(category=None) means UserWarning",
        "tokenhot_nb._config.x__say_offline_once__mutmut_8": "warnings.warn without a category means UserWarning",
        "tokenhot_nb._config.xǁSecretǁ__hash____mutmut_2":
            "another tag in the hashed tuple: equal secrets still hash alike, and unlike the bare string",
        "tokenhot_nb._config.xǁSecretǁ__hash____mutmut_3": "as xǁSecretǁ__hash____mutmut_2",
        "tokenhot_nb._config.xǁSecretǁ__hash____mutmut_4": "as xǁSecretǁ__hash____mutmut_2",
        "tokenhot_nb._config.xǁSettingsǁfrom_env__mutmut_25": "'LIVE' is lower-cased on the next line",
        "tokenhot_nb._config.xǁSettingsǁfrom_env__mutmut_27": "'OFFLINE' is lower-cased on the next line",
    },
    "download": {
        _DL + "x_describe_url__mutmut_20": "split('?') without maxsplit: same first part",
        _DL + "x_describe_url__mutmut_23": "split('?', 2): same first part",
        _DL + "x_check_data_url_size__mutmut_11":
            "comma > 0 for >= 0: a data: URL's first comma is at index 5 or later, or absent (-1), never at 0",
        _DL + "x_check_data_url_size__mutmut_12": "as x_check_data_url_size__mutmut_11 (comma >= 1)",
        _DL + "x_check_data_url_size__mutmut_13":
            "a payload of 1 for none: 1 // 3 == 0 // 3 (without a comma there is no ';base64' header)",
        _DL + "x_check_data_url_size__mutmut_23":
            "url[:max(comma, 1)]: differs only without a comma, and url[:1] ('d') holds no ';base64' either",
        _DL + "x_check_media__mutmut_27":
            "sniff_mime's default is compared by its part before '/' with 'audio'/'video': "
            "'application/octet-stream' is neither, as '' is not",
        _DL + "x_check_media__mutmut_28": "as x_check_media__mutmut_27 (default 'XXXX')",
        _DL + "x_check_media__mutmut_69": "'XXaeiouXX' for 'aeiou': only adds 'X', and expect is a lower-case word",
        _DL + "x_check_media__mutmut_34":
            "upper() for lower(): the head is only compared with '<', '{' and '[', which have no case",
        _DL + "x_raster_format__mutmut_10":
            "accept(head[:17]): Pillow's header tests read at most the first 16 bytes (WEBP's VP8 mode, 12:16)",
        _DL + "x__boxes_cut__mutmut_10":
            "at > size for >= size: at == size reads no header (fewer than 8 bytes) and stops the same way",
        _DL + "x__boxes_cut__mutmut_18":
            "return for break on a short header: there at < size, so the last line returns None as well",
        _DL + "x__boxes_cut__mutmut_23":
            "int.from_bytes without 'big': its default from Python 3.11, the version measured (3.10 would raise)",
        _DL + "x__boxes_cut__mutmut_36": "as x__boxes_cut__mutmut_23",
        _DL + "x__boxes_cut__mutmut_38": "header[8:17] of a header of at most 16 bytes is header[8:16]",
        _DL + "x__boxes_cut__mutmut_42":
            "elif length == 1 for == 0: a 0 then fails `length < 8` and returns None as its own branch did; a 1 "
            "that gets there (its 64-bit length missing) returns None either way",
        _DL + "x_sweep_partial__mutmut_24": "pid is read only for a file of this host, which has three name parts",
        _DL + "x_sweep_partial__mutmut_25": "as x_sweep_partial__mutmut_24",
    },
    "body": {
        _BODY + "x_bound_body__mutmut_8": "httpx headers are case-insensitive",
        _BODY + "x_bound_body__mutmut_36": "httpx headers are case-insensitive",
        _BODY + "x_bound_body__mutmut_39": "httpx headers are case-insensitive",
        _BODY + "x_bound_body__mutmut_13": "encoding None for '' (identity): both falsy, so no decoder either way",
        _BODY + "x_media_type__mutmut_6": "split(';') without maxsplit: same first part",
        _BODY + "x_media_type__mutmut_11": "split(';', 2): same first part",
        _BODY + "x_web_page__mutmut_32": "'UTF-8' and 'utf-8' name the same codec",
        _BODY + "xǁBoundedStreamǁ_count__mutmut_19":
            "max(2, wire) for max(1, wire): only a wire of 0 or 1 byte differs, and past BOMB_FLOOR (1 MiB) the size "
            "is over both 200 and 400 times it",
        _BODY + "xǁ_Decoderǁ__init____mutmut_6": "MAX_WBITS | 17 == MAX_WBITS | 16 == 31 (15 has bit 0 set)",
        _BODY + "xǁ_Decoderǁfeed__mutmut_20": "_first = None: as falsy as False",
    },
    "replay": {
        "tokenhot_nb.history._replay.x__flatten__mutmut_14":
            "recursing into a non-dict value returns {path: value}, the same as the direct branch",
        "tokenhot_nb.history._replay.x_replay_key__mutmut_20": "'UTF-8' and 'utf-8' name the same codec",
        "tokenhot_nb.history._replay.x_similarity__mutmut_35":
            "the no-fields branch is unreachable: _flatten never returns an empty mapping",
        "tokenhot_nb.history._replay.x_similarity__mutmut_36": "as x_similarity__mutmut_35",
        "tokenhot_nb.history._replay.x_similarity__mutmut_37": "as x_similarity__mutmut_35",
    },
    "catalog": {
        "tokenhot_nb.catalog.x__norm__mutmut_22": "strip('XX-XX'): the name was lower-cased, it holds no 'X'",
        "tokenhot_nb.catalog.xǁCatalogǁfind__mutmut_9": "by_id.get(None) is None as well: no id is None",
        "tokenhot_nb.catalog.xǁUnclassifiedModelErrorǁ__init____mutmut_22":
            "kind or 'XXXX' for kind or '': neither is a kind, both give the default example family",
    },
    "sse": {
        _SSE + "xǁEventStreamǁ__init____mutmut_1":
            "the description's default only reaches a debug log line (Client always passes one)",
        _SSE + "xǁEventStreamǁ__init____mutmut_14": "_primed = None: as falsy as False",
        _SSE + "xǁEventStreamǁ_run__mutmut_6": "httpx headers are case-insensitive",
        _SSE + "x__body_chunks__mutmut_3":
            "aiter_bytes for every body: the same bytes (bound_body already decoded them); aiter_raw is the fast path",
        _SSE + "x_decode_data__mutmut_14":
            "paused_collection for every frame: the same value; only the garbage collector's pause differs",
        _SSE + "x_decode_data__mutmut_19": "as x_decode_data__mutmut_14 (paused for long or bracket-rich frames)",
        _SSE + "x_decode_data__mutmut_20": "as x_decode_data__mutmut_14 (paused for a frame of exactly 2048 characters)",
        _SSE + "xǁEventStreamǁ_events__mutmut_79": "started = None: as falsy as False",
        _SSE + "xǁEventStreamǁ_events__mutmut_110": "more = None: as falsy as False",
        _SSE + "xǁEventStreamǁ_events__mutmut_119":
            "Task.uncancel exists on the 3.11 measured (the getattr default matters on 3.10 only)",
        _SSE + "xǁEventStreamǁ_events__mutmut_167": "more = None: as falsy as False",
        _SSE + "xǁEventStreamǁ_events__mutmut_227": "waiting = None: as falsy as False",
        _SSE + "xǁEventStreamǁ_sniff__mutmut_10": "_stall_error(deadline=None): as falsy as False",
        _SSE + "xǁEventStreamǁ_envelope_error__mutmut_23": "'UTF-8' and 'utf-8' name the same codec",
        _SSE + "xǁEventStreamǁ_whole_answer__mutmut_30":
            "the envelope's error built from json.dumps(item): when the body as sent parses strictly to a dict, "
            "item is that same dict (whole.json() parses strictly first), so the error is the same",
        _SSE + "xǁEventStreamǁ_whole_answer__mutmut_35":
            "as _whole_answer__mutmut_30 for a whole envelope; an array's body as sent is no dict, so its "
            "item's error is built from the item either way",
    },
}
for _name in TARGETS:
    EQUIVALENT.setdefault(_name, {})


@dataclass
class Outcome:
    name: str
    statuses: dict[str, str] = field(default_factory=dict)  # mutant name → mutmut status

    def count(self, *wanted: str) -> int:
        return sum(1 for s in self.statuses.values() if s in wanted)

    @property
    def survivors(self) -> list[str]:
        return sorted(k for k, s in self.statuses.items() if s in ("survived", "no tests"))

    def report(self) -> dict[str, object]:
        equivalent = EQUIVALENT.get(self.name, {})
        killed = self.count("killed", "timeout", "caught by type check")
        survivors = self.survivors
        unexplained = [s for s in survivors if s not in equivalent]
        relevant = killed + len(unexplained)
        rate = 100.0 * killed / relevant if relevant else 0.0  # nothing checked is a failed run, not 100 %
        return {
            "module": TARGETS[self.name].path,
            "mutants": len(self.statuses),
            "killed": killed,
            "equivalent": len(survivors) - len(unexplained),
            "survived": unexplained,
            "other": {s: self.count(s) for s in set(self.statuses.values()) - {"killed", "timeout", "survived",
                                                                            "no tests", "caught by type check"}},
            "kill_rate": round(rate, 1),
        }


def _setup_cfg(target: Target) -> str:
    lines = [
        "[mutmut]",
        "source_paths=tokenhot_nb",
        f"only_mutate={target.path}",
        "pytest_add_cli_args=",
        "    -p",
        "    no:cacheprovider",
        "    -q",
        "pytest_add_cli_args_test_selection=",
        *(f"    {t}" for t in target.tests),
        "timeout_multiplier=5.0",
        "timeout_constant=5.0",
        "use_git_change_detection=false",
        "also_copy=",
        "    README.md",  # tests/test_config.py checks the documented defaults against it
    ]
    return "\n".join(lines) + "\n"


def _scratch(name: str, work: Path) -> Path:
    """A fresh copy of the package, tests and config for one module's run."""
    where = work / name
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".tokenhot", "mutants")
    shutil.copytree(ROOT / "tokenhot_nb", where / "tokenhot_nb", ignore=ignore)
    shutil.copytree(ROOT / "tests", where / "tests", ignore=ignore)
    # pyproject without [tool.mutmut] (mutmut reads setup.cfg then) but with the pytest settings
    shutil.copy2(ROOT / "pyproject.toml", where / "pyproject.toml")
    shutil.copy2(ROOT / "README.md", where / "README.md")
    (where / "setup.cfg").write_text(_setup_cfg(TARGETS[name]))
    return where


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # mutmut puts its mutated copy first; nothing may shadow it
    return env


def run(name: str, work: Path, jobs: int, show: bool) -> Outcome:
    where = _scratch(name, work)
    log = where / "mutmut.log"
    with log.open("w") as out:
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)],
            cwd=where, env=_env(), stdout=out, stderr=subprocess.STDOUT, check=False,
        )
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=where, env=_env(), capture_output=True, text=True, check=False,
    ).stdout
    outcome = Outcome(name)
    for line in listing.splitlines():
        key, sep, status = line.strip().rpartition(": ")
        if sep and key:
            outcome.statuses[key] = status
    if show:
        for mutant in outcome.survivors:
            diff = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", mutant],
                cwd=where, env=_env(), capture_output=True, text=True, check=False,
            ).stdout
            print(diff)
    if not outcome.statuses:
        print(f"{name}: mutmut produced no results; see {log}", file=sys.stderr)
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"short names among {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--show", action="store_true", help="print the diff of every unexplained survivor")
    parser.add_argument("--json", type=Path, default=None, help="also write the reports to this file")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; choose among {', '.join(TARGETS)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="tokenhot-mutation-"))
    reports = []
    for name in args.modules or list(TARGETS):
        report = run(name, work, args.jobs, args.show).report()
        reports.append(report)
        print(
            f"{report['module']}: {report['kill_rate']} % killed "
            f"({report['killed']} killed, {report['equivalent']} equivalent, "
            f"{len(report['survived'])} survived of {report['mutants']})",  # type: ignore[arg-type]
            flush=True,
        )
        for mutant in report["survived"]:  # type: ignore[attr-defined]
            print(f"    survived: {mutant}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))
    return 0 if all(float(r["kill_rate"]) >= 90.0 for r in reports) else 1  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
