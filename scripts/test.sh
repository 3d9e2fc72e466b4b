#!/usr/bin/env bash
# The whole test suite — the README's test command, and what CI runs (.ci/run):
#   1. cargo test --workspace;
#   2. the Python package: a fresh virtualenv (target/python-venv) with the pinned build and
#      test tools, `pip install ./python` (maturin builds the abi3 wheel in release mode),
#      then pytest python/tests (the scc.torch tests are skipped where PyTorch is absent).
# PYTHON chooses the interpreter of the virtualenv (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace
echo "scripts/test.sh: cargo test --workspace took ${SECONDS} s"
rust_seconds=$SECONDS

venv=target/python-venv
rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements-test.txt
# maturin's build backend runs the `maturin` executable it finds on PATH: the virtualenv's.
export PATH="$PWD/$venv/bin:$PATH"
# --no-build-isolation: build with the pinned maturin just installed.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation ./python
echo "scripts/test.sh: virtualenv and wheel took $((SECONDS - rust_seconds)) s"
# The CLI that `cargo test` built, for the tests comparing the two faces.
SCC_BIN="$PWD/target/debug/scc" "$venv/bin/python" -m pytest python/tests -p no:cacheprovider
echo "scripts/test.sh: the Python part took $((SECONDS - rust_seconds)) s"
