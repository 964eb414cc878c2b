"""python -m bench [name]: run the benchmarks (default: shield_latency)."""

import importlib
import sys

name = sys.argv[1] if len(sys.argv) > 1 else "shield_latency"
sys.argv = [f"bench.{name}", *sys.argv[2:]]
raise SystemExit(importlib.import_module(f"bench.{name}").main())
