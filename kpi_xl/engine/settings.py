"""The ``[engine]`` section of the config: where the engine's SQL runs, and the quantile
policy.

    [engine]
    backend = "postgres"             # "duckdb" (default, embedded), "postgres", "spark"
    url_env = "KPI_XL_PG_URL"        # the environment variable holding the connection
    quantiles = "exact"              # or "approximate" (kpi_xl.engine.quantiles)
    approximate = ["time_to_resolution"]   # KPIs computed approximately anyway
    sample_rejects = 1000            # sources read in place: rejects listed per source

The connection URL (with its password) is read from the environment variable named by
``url_env`` when the run starts, never from the file. For Spark, ``url_env`` is optional
and names a variable holding the master (``local[4]``, ``spark://host:7077``); without
it a local session is started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .backends import BACKENDS, Backend, connect
from .quantiles import POLICIES, QuantilePolicy

KEYS = {"backend", "url_env", "quantiles", "approximate", "sample_rejects"}
NAMES = {"duckdb": "embedded DuckDB (in this process)", "postgres": "PostgreSQL",
         "spark": "Spark"}


@dataclass(frozen=True)
class EngineSettings:
    backend: str = "duckdb"
    url_env: str | None = None
    quantiles: QuantilePolicy = field(default_factory=QuantilePolicy)
    #: sources read in place: the rejects listed per source (all are counted)
    sample_rejects: int = 1000

    def connect(self, environ: Mapping[str, str] | None = None,
                threads: int | None = None) -> Backend:
        return connect(self.backend, url_env=self.url_env, environ=environ, threads=threads)

    def describe(self, environ: Mapping[str, str] | None = None,
                 relations: tuple[str, ...] = ()) -> list[str]:
        """What will run where, for ``kpi-xl validate`` (no connection is made);
        ``relations``: the sources read in place (``schema.table``)."""
        env = os.environ if environ is None else environ
        where = NAMES[self.backend]
        if self.url_env:
            state = "set" if env.get(self.url_env) else "NOT SET"
            where += f", connection from ${self.url_env} ({state})"
        files = ("the data files (if any) are read and checked here" if relations else
                 "the data files are read and checked here")
        lines = [f"the KPIs are computed on {where}; {files}, and only the results come "
                 "back" if self.backend != "duckdb" else f"the KPIs are computed on {where}"]
        if relations:
            lines.append(f"read in place on {NAMES[self.backend]}: {', '.join(relations)}; "
                         "their rows are checked and counted there, and only the counts, "
                         f"up to {self.sample_rejects:,} rejects listed per source ([engine] "
                         "sample_rejects; every one counted) and the results come back")
        lines.append(self.quantiles.describe())
        return lines


def parse_engine(spec: Any, problems: list[str]) -> EngineSettings:
    if spec is None:
        return EngineSettings()
    for k in spec:
        if k not in KEYS:
            problems.append(f"[engine] unknown key {k!r} (keys: {', '.join(sorted(KEYS))})")
    backend = spec.get("backend", "duckdb")
    if backend not in BACKENDS:
        problems.append(f"[engine] backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        backend = "duckdb"
    url_env = spec.get("url_env")
    if url_env is not None and (not isinstance(url_env, str) or not url_env.strip()
                                or "://" in url_env):
        problems.append(f"[engine] url_env must be the NAME of an environment variable that "
                        f"holds the connection (e.g. \"KPI_XL_PG_URL\"), never the URL itself; "
                        f"got {url_env!r}")
        url_env = None
    if backend == "postgres" and url_env is None and "url_env" not in spec:
        problems.append("[engine] backend = \"postgres\" needs url_env: the name of the "
                        "environment variable holding the connection URL")
    if "url" in spec:
        problems.append("[engine] url: connections (and their passwords) never go in the "
                        "config file; put it in an environment variable and name it in url_env")
    default = spec.get("quantiles", "exact")
    if default not in POLICIES:
        problems.append(f"[engine] quantiles must be \"exact\" or \"approximate\", got {default!r}")
        default = "exact"
    approx = spec.get("approximate", [])
    from ..catalog import CATALOG

    if not isinstance(approx, list) or not all(isinstance(k, str) for k in approx):
        problems.append(f"[engine] approximate must be a list of KPI keys, got {approx!r}")
        approx = []
    for k in approx:
        if k not in CATALOG:
            problems.append(f"[engine] approximate: {k!r} is not a KPI key (see `kpi-xl kpis`)")
    policy = QuantilePolicy(default, frozenset(k for k in approx if k in CATALOG))
    sample = spec.get("sample_rejects", 1000)
    if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample <= 1_000_000:
        problems.append(f"[engine] sample_rejects must be a whole number from 0 to 1,000,000 "
                        f"(the rejects listed per source read in place; all are counted), "
                        f"got {sample!r}")
        sample = 1000
    settings = EngineSettings(backend, url_env, policy, sample)
    from ..render.sql import DIALECTS
    from .quantiles import QuantileError

    try:
        policy.check(DIALECTS[backend])
    except QuantileError as e:
        problems.append(str(e))
    return settings
