#!/usr/bin/env bash
# The workbook's own tests, all of them: what CI runs and what a maintainer
# runs before a commit. Usage: scripts/test-all.sh
#
# It proves that the checker works (its tests against a fixture workbook),
# that every exercise is sound (each starter compiles and fails every test,
# each solution passes them), that the manifests agree with the files, that
# the book builds with every include and link resolved and shows real output
# where it quotes some, and that the code is formatted and clippy-clean.
set -euo pipefail
cd "$(dirname "$0")/.."

MDBOOK_VERSION="0.5.4"

step() { printf '\n==> %s\n' "$*"; }

step "Formatting (cargo fmt --check)"
cargo fmt --all --check

step "Lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "The checker's own tests, and the testkit's"
# xmllint validates the checker's JUnit XML against the schema CI systems
# read (checker/tests/junit_schema.rs).
if ! command -v xmllint >/dev/null; then
    echo "Installing xmllint (libxml2-utils), once..."
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get install -y libxml2-utils >/dev/null
fi
# Headless Chromium and chromedriver check the class gradebook's HTML page
# (checker/tests/gradebook_browser.rs), which fails without them.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "Installing chromium and chromium-driver, once..."
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get install -y chromium chromium-driver >/dev/null
fi
cargo test --package checker --locked
cargo test --package testkit --lib --locked

step "The capstone's grader: its own tests, and broken shops caught where they break"
cargo test --package grader --locked

step "Manifests agree with the files (checker dev check)"
cargo run --quiet --locked --package checker -- dev check

step "CI templates for learners' forks parse and name real commands (scripts/check-ci-templates.py)"
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "Installing PyYAML, once..."
    python3 -m pip install --quiet pyyaml
fi
python3 scripts/check-ci-templates.py

step "The book's transcripts are the real output (cargo test -p book-listings)"
cargo test --package book-listings --locked

step "The book"
if ! mdbook --version 2>/dev/null | grep -q "v${MDBOOK_VERSION}"; then
    echo "Installing mdbook ${MDBOOK_VERSION} (once; it takes a few minutes)..."
    cargo install mdbook --locked --version "${MDBOOK_VERSION}" --quiet
fi
mdbook build book

step "Every exercise: starter fails every test, solution passes (checker dev verify)"
cargo run --quiet --locked --package checker -- dev verify
