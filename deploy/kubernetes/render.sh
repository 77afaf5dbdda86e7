#!/usr/bin/env bash
# Renders the manifests of one sharded run into OUT_DIR (deploy/kubernetes/README.md):
#
#   SHARDS=4 API_URL=http://freshmart:8080 deploy/kubernetes/render.sh run/
#
# Settings, from the environment:
#   SHARDS       number of shards (pods replaying at once), 1-1000             [4]
#   START_AT     the shared start instant, RFC 3339 UTC              [now + LEAD_TIME]
#   LEAD_TIME    how far ahead START_AT is when not given: time to pull the image
#                and schedule every pod (GNU date syntax)                      [3 min]
#   RUN_ID       the run id: 1-32 lower-case letters, digits or '-'  [r-MMDDHHMM of START_AT]
#   API_URL      the FreshMart API as the pods reach it     [http://freshmart-stub:8080]
#   IMAGE        the image built from the Dockerfile                     [loadgen:0.1.0]
#   TRACE        the trace inside the pods: the ConfigMap's, or one on the
#                results volume (/results/traces/...)                 [/trace/day.trace]
#   MIN_SUCCESS  the merged run's minimum success rate                            [0.9]
#   STORAGE_CLASS  a storage class with ReadWriteMany for the results volume
#                [unset: the cluster's default class]
set -euo pipefail

out=${1:?usage: render.sh OUT_DIR (settings in the environment, see the script)}
here=$(cd "$(dirname "$0")" && pwd)

export SHARDS=${SHARDS:-4}
export START_AT=${START_AT:-$(date -u -d "+${LEAD_TIME:-3 min}" +%Y-%m-%dT%H:%M:%SZ)}
export API_URL=${API_URL:-http://freshmart-stub:8080}
export IMAGE=${IMAGE:-loadgen:0.1.0}
export TRACE=${TRACE:-/trace/day.trace}
export MIN_SUCCESS=${MIN_SUCCESS:-0.9}
if [[ -n ${STORAGE_CLASS:-} ]]; then
    export STORAGE_CLASS_FIELD="storageClassName: $STORAGE_CLASS"
else
    export STORAGE_CLASS_FIELD="# storageClassName: unset, the cluster's default class"
fi

fail() {
    echo "render.sh: $*" >&2
    exit 2
}
[[ $SHARDS =~ ^[1-9][0-9]{0,2}$|^1000$ ]] || fail "SHARDS=$SHARDS: a whole number from 1 to 1000"
[[ $START_AT =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] \
    || fail "START_AT=$START_AT: an RFC 3339 UTC instant, like 2026-12-01T15:00:00Z"
date -u -d "$START_AT" >/dev/null 2>&1 || fail "START_AT=$START_AT: not a date"
export RUN_ID=${RUN_ID:-r-$(date -u -d "$START_AT" +%m%d%H%M)}
# Also a Kubernetes name and label value (lower case), and a loadgen run id (32 at most).
[[ $RUN_ID =~ ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$ ]] \
    || fail "RUN_ID=$RUN_ID: 1-32 lower-case letters, digits or '-', starting and ending with a letter or digit"
for name in API_URL IMAGE TRACE MIN_SUCCESS STORAGE_CLASS_FIELD; do
    # The values go into YAML scalars: keep them to one line without quotes.
    [[ ${!name} != *[\"\\$'\n']* ]] || fail "$name: no quotes, backslashes or newlines"
done

mkdir -p "$out"
written=()
# Only these variables: the pods' shell scripts keep their own $names.
# shellcheck disable=SC2016 # envsubst's list of names, not an expansion
vars='${SHARDS} ${START_AT} ${RUN_ID} ${API_URL} ${IMAGE} ${TRACE} ${MIN_SUCCESS} ${STORAGE_CLASS_FIELD}'
for template in "$here"/templates/*.yaml.in; do
    name=$(basename "$template" .in)
    envsubst "$vars" <"$template" >"$out/$name.tmp"
    mv "$out/$name.tmp" "$out/$name"
    written+=("$name")
done
echo "rendered ${written[*]} into $out:"
echo "  SHARDS=$SHARDS START_AT=$START_AT RUN_ID=$RUN_ID"
echo "  API_URL=$API_URL IMAGE=$IMAGE TRACE=$TRACE MIN_SUCCESS=$MIN_SUCCESS"
