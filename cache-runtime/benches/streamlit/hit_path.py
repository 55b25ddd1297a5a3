"""The cost of a Streamlit cache hit, for comparison with `benches/hit_path.rs`.

Measures, in nanoseconds per call, calls to `@st.cache_data` and
`@st.cache_resource` functions whose values are already cached:

  cache_data_u64              one `int` argument, cycling over `--keys` keys
  cache_data_str_u32          `(str, int)` arguments, cycling over `--keys` keys
  cache_resource_zero_arg     a zero-argument resource (the singleton case)
  cache_data_u64_max_entries  as cache_data_u64, with `max_entries=1000`
  cache_data_u64_ttl          as cache_data_u64, with `ttl=3600`
  python_call_baseline        the same loop calling a plain, uncached function:
                              the harness's own cost, not Streamlit's

Every cache is prefilled first; each case then runs `--rounds` rounds of
`--calls` calls and reports the best round (the least disturbed by other work
on the machine), with the garbage collector off as `timeit` does. The cached
functions count their own executions, and the run fails if any measured call
was a miss, so only hits are ever reported.

How Streamlit is run: in "bare mode", i.e. by importing `streamlit` and
calling the decorated functions from plain Python, with no `streamlit run`,
no `Runtime` and no `ScriptRunContext`. This is the real hit path. In
Streamlit 1.67 a hit (`CachedFunc._get_or_create_cached_value`) hashes the
arguments, looks the function's cache up in the process-wide registry, reads
the in-memory LRU/TTL layer (`InMemoryCacheStorageWrapper`; `cache_data` then
unpickles the stored bytes), records the hit metric and replays the (empty)
recorded `st.*` messages; none of it consults the script-run context or the
runtime. What bare mode changes is only off the hit path: the persistent layer
behind the in-memory one is a no-op instead of the disk store (which
`persist=None` never touches on a hit anyway), and a miss's spinner finds no
context, which is what the "missing ScriptRunContext" and "No runtime found"
warnings, silenced below, are about.

    python hit_path.py            # a table
    python hit_path.py --json     # one JSON object, integer ns per call, on stdout
    ./run.sh --json               # the same, in a venv with requirements.txt
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

# Bare mode warns once per miss ("missing ScriptRunContext", from the spinner a
# miss would show) and once per cache ("No runtime found"). Neither happens on a
# hit, and both would bury the results, so silence exactly those two loggers;
# they must be quiet before the decorators below run.
for _name in (
    "streamlit.runtime.scriptrunner_utils.script_run_context",
    "streamlit.runtime.caching.cache_data_api",
):
    logging.getLogger(_name).setLevel(logging.ERROR)

#: The bound of the `max_entries` case, as `CAPACITY` in `hit_path.rs`.
MAX_ENTRIES = 1000
#: The `ttl` of the `ttl` case, in seconds: far longer than the run.
TTL_SECONDS = 3600

#: Executions of each cached function, i.e. its misses, by function name.
misses: dict[str, int] = {}


def _count_miss(name: str) -> None:
    misses[name] = misses.get(name, 0) + 1


# The work a miss would do is trivial, as in `hit_path.rs`: the value is all
# that matters, and an `int` is as cheap to pickle as a value gets.
def _compute(key: int) -> int:
    return (key * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF


@st.cache_data
def cache_data_u64(key: int) -> int:
    _count_miss("cache_data_u64")
    return _compute(key)


@st.cache_data
def cache_data_str_u32(table: str, limit: int) -> int:
    _count_miss("cache_data_str_u32")
    return _compute(len(table) ^ limit)


@st.cache_data(max_entries=MAX_ENTRIES)
def cache_data_u64_max_entries(key: int) -> int:
    _count_miss("cache_data_u64_max_entries")
    return _compute(key)


@st.cache_data(ttl=TTL_SECONDS)
def cache_data_u64_ttl(key: int) -> int:
    _count_miss("cache_data_u64_ttl")
    return _compute(key)


@dataclass(frozen=True)
class Settings:
    """A stand-in for a shared resource, as `Settings` in `hit_path.rs`."""

    threads: int
    name: str


@st.cache_resource
def cache_resource_zero_arg() -> Settings:
    _count_miss("cache_resource_zero_arg")
    return Settings(threads=4, name="bench")


def python_call_baseline(key: int) -> int:
    """Not cached: calling it shows what the measuring loop itself costs."""
    return key


@dataclass(frozen=True)
class Case:
    """One measured case: `func` called with each of `args` in turn."""

    name: str
    func: Callable[..., Any]
    #: The distinct argument tuples, all prefilled; calls cycle through them.
    args: list[tuple[Any, ...]]
    note: str


def make_cases(keys: int) -> list[Case]:
    int_args = [(k,) for k in range(keys)]
    # A cache bounded below the key count would evict on every call of a cyclic
    # walk (LRU), so the bounded case walks only as many keys as it holds.
    bounded_args = int_args[:MAX_ENTRIES]
    # Built once, so that the measured calls pay for hashing the strings and
    # not for formatting them.
    str_args = [(f"table-{k}", k) for k in range(keys)]
    return [
        Case("cache_data_u64", cache_data_u64, int_args, "@st.cache_data, (int)"),
        Case(
            "cache_data_str_u32",
            cache_data_str_u32,
            str_args,
            "@st.cache_data, (str, int)",
        ),
        Case(
            "cache_resource_zero_arg",
            cache_resource_zero_arg,
            [()],
            "@st.cache_resource, ()",
        ),
        Case(
            "cache_data_u64_max_entries",
            cache_data_u64_max_entries,
            bounded_args,
            f"@st.cache_data(max_entries={MAX_ENTRIES}), (int)",
        ),
        Case(
            "cache_data_u64_ttl",
            cache_data_u64_ttl,
            int_args,
            f"@st.cache_data(ttl={TTL_SECONDS}), (int)",
        ),
        Case(
            "python_call_baseline",
            python_call_baseline,
            int_args,
            "plain def, (int): loop overhead",
        ),
    ]


def best_ns_per_call(case: Case, rounds: int, calls: int) -> float:
    """The fastest of `rounds` rounds of `calls` calls, in ns per call."""
    # The whole round's argument sequence is laid out ahead of time, so the
    # timed loop is a bare list iteration plus the call.
    sequence = [case.args[i % len(case.args)] for i in range(calls)]
    func = case.func
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for args in sequence:
            func(*args)
        best = min(best, time.perf_counter_ns() - start)
    return best / calls


def run(rounds: int, calls: int, keys: int) -> list[tuple[Case, float]]:
    cases = make_cases(keys)
    for case in cases:
        for args in case.args:
            case.func(*args)
    prefilled = dict(misses)

    results = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for case in cases:
            results.append((case, best_ns_per_call(case, rounds, calls)))
    finally:
        if gc_was_enabled:
            gc.enable()

    if misses != prefilled:
        missed = {k: v - prefilled.get(k, 0) for k, v in misses.items()}
        raise SystemExit(f"measured calls missed the cache: {missed}")
    return results


def print_table(results: list[tuple[Case, float]], rounds: int, calls: int) -> None:
    print(
        f"Streamlit {st.__version__}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.machine()}; "
        f"best of {rounds} rounds x {calls} calls, all hits"
    )
    print()
    print(f"{'case':<28} {'keys':>5} {'ns/call':>9}  what")
    for case, ns in results:
        print(f"{case.name:<28} {len(case.args):>5} {ns:>9.0f}  {case.note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json",
        action="store_true",
        help="print only a JSON object of integer ns per call, keyed by case",
    )
    parser.add_argument("--rounds", type=int, default=7, help="default: 7")
    parser.add_argument(
        "--calls", type=int, default=20_000, help="calls per round, default: 20000"
    )
    parser.add_argument(
        "--keys", type=int, default=1024, help="prefilled keys per case, default: 1024"
    )
    opts = parser.parse_args(argv)
    if min(opts.rounds, opts.calls, opts.keys) < 1:
        parser.error("--rounds, --calls and --keys must be positive")

    results = run(opts.rounds, opts.calls, opts.keys)
    if opts.json:
        json.dump({case.name: round(ns) for case, ns in results}, sys.stdout)
        print()
    else:
        print_table(results, opts.rounds, opts.calls)


if __name__ == "__main__":
    main()
