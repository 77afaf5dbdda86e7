#!/usr/bin/env bash
# Checks the deployment files (run by .ci/run; needs `kubernetes-validate` and `hadolint` on
# PATH, which .ci/run installs with pip):
# * the templates render, and deploy/kubernetes/example/ is exactly their output for the
#   example settings below (so the committed example never drifts from the templates);
# * the rendered manifests validate against the Kubernetes schemas, strictly (an unknown or
#   misspelt field fails), for 1.29 (the first release with backoffLimitPerIndex on by
#   default), 1.33 (where it is GA) and 1.37;
# * the Dockerfile passes hadolint, and builds with a Rust no older than Cargo.toml's
#   rust-version.
# `deploy/check.sh --update-example` renders example/ again (after a template changed).
set -euo pipefail
cd "$(dirname "$0")/.."

render_example() {
    env -u STORAGE_CLASS -u LEAD_TIME SHARDS=4 START_AT=2026-12-01T15:00:00Z RUN_ID=example \
        API_URL=http://freshmart-stub:8080 IMAGE=loadgen:0.1.0 TRACE=/trace/day.trace \
        MIN_SUCCESS=0.9 deploy/kubernetes/render.sh "$1" >/dev/null
}
if [[ ${1:-} == --update-example ]]; then
    rm -rf deploy/kubernetes/example
    render_example deploy/kubernetes/example
    exit 0
fi

rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
render_example "$rendered"
if ! diff -ru deploy/kubernetes/example "$rendered"; then
    echo "deploy/kubernetes/example/ is not the templates' output:" \
        "run deploy/check.sh --update-example" >&2
    exit 1
fi
manifests=("$rendered"/*.yaml)
for version in 1.29.0 1.33.0 1.37.0; do
    kubernetes-validate --quiet --strict --kubernetes-version "$version" "${manifests[@]}"
done
echo "manifests: ${#manifests[@]} files valid for Kubernetes 1.29, 1.33, 1.37"

hadolint Dockerfile
wanted=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
image=$(sed -n 's/^ARG RUST_VERSION=//p' Dockerfile)
if [[ -z $wanted || -z $image ]] || [[ $(printf '%s\n' "$wanted" "$image" | sort -V | head -1) != "$wanted" ]]; then
    echo "Dockerfile: RUST_VERSION=$image is older than Cargo.toml's rust-version $wanted" >&2
    exit 1
fi
echo "Dockerfile: hadolint clean, Rust $image (rust-version $wanted)"
