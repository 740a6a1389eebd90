"""Adapter of @honk/proc's WASI for the WebAssembly/wasi-testsuite runner.

    python3 test-runner/wasi_test_runner.py --test-suite tests/... \
        --runtime-adapter /path/to/honk-ts/packages/proc/wasi-testsuite-adapter.py

Runs packages/proc/src/wasi/cli.ts (from the TypeScript sources, through the checkout's tsx).
Supports both adapter interfaces: the command-line one (--version, --test-file, --arg, --env,
--dir) and the module one (get_name, get_version, compute_argv).
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

PROC = Path(__file__).resolve().parent
ROOT = PROC.parent.parent
TSX = ROOT / "node_modules" / "tsx" / "dist" / "loader.mjs"
CLI = PROC / "src" / "wasi" / "cli.ts"
NODE = [os.getenv("NODE", "node"), "--no-warnings", "--conditions=@honk/source", "--import", TSX.as_uri(), str(CLI)]


def get_name() -> str:
    return "honk"


def get_version() -> str:
    return "0.1.0"


def compute_argv(test_path: str, args: List[str], env: Dict[str, str], dirs: List[Tuple[Path, str]]) -> List[str]:
    argv = list(NODE)
    for k, v in env.items():
        argv += ["--env", f"{k}={v}"]
    for host, guest in dirs:
        argv += ["--dir", f"{host}::{guest}"]
    return argv + [test_path] + list(args)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--version", action="store_true")
    p.add_argument("--test-file", action="store")
    p.add_argument("--arg", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--dir", action="append", default=[])
    a = p.parse_args()
    if a.version:
        print(f"{get_name()} {get_version()}")
        sys.exit(0)
    argv = list(NODE)
    for e in a.env:
        argv += ["--env", e]
    for d in a.dir:
        argv += ["--dir", d]
    sys.exit(subprocess.run(argv + [a.test_file] + a.arg).returncode)
