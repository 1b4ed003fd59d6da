#!/usr/bin/env bash
# The Kafka ACLs of octofleet's trust model (docs/reliability.md, "Who may write what"):
# each principal may write only the topics it owns and read only what it consumes.
#
#   producer  reads requests, events, releases; writes jobs.s*, events, releases, dlq;
#             its consumer group and transactional id
#   worker    reads jobs.s*; writes events, dlq; the workers' consumer group
#   cli       writes requests; reads events, releases (status, events --follow); reads dlq
#             (topic dump); the throw-away groups octofleet-cli-* of events --follow
#   monitor   reads events and dlq (dashboards, alerting), group <prefix>monitor-*
#
# Usage (prints the kafka-acls.sh commands; add --apply to run them):
#   deploy/kafka-acls.sh --bootstrap kafka-1:9093 --command-config admin.properties \
#       --prefix octofleet. --producer User:octofleet-producer --worker User:octofleet-worker \
#       --cli User:release-managers [--monitor User:monitoring] \
#       [--producer-group octofleet-producer] [--worker-group octofleet-workers] \
#       [--transactional-id octofleet-producer] [--kafka-acls /opt/kafka/bin/kafka-acls.sh] [--apply]
#
# Group and transactional-id defaults match config/octofleet.cfg.example. Exit codes: 0 done,
# 1 a kafka-acls.sh call failed, 2 usage.
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

bootstrap="" command_config="" prefix="octofleet." producer="" worker="" cli="" monitor=""
pgroup="octofleet-producer" wgroup="octofleet-workers" txid="octofleet-producer"
kafka_acls="kafka-acls.sh" apply=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap) bootstrap=$2; shift 2 ;;
    --command-config) command_config=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --producer) producer=$2; shift 2 ;;
    --worker) worker=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --monitor) monitor=$2; shift 2 ;;
    --producer-group) pgroup=$2; shift 2 ;;
    --worker-group) wgroup=$2; shift 2 ;;
    --transactional-id) txid=$2; shift 2 ;;
    --kafka-acls) kafka_acls=$2; shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "kafka-acls: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$bootstrap" ] || [ -z "$producer" ] || [ -z "$worker" ] || [ -z "$cli" ]; then
  echo "kafka-acls: --bootstrap, --producer, --worker and --cli are required (see --help)" >&2
  exit 2
fi

base=("$kafka_acls" --bootstrap-server "$bootstrap")
[ -n "$command_config" ] && base+=(--command-config "$command_config")

acl() { # principal, operations (comma-separated), resource arguments...
  local who=$1 ops=$2; shift 2
  local cmd=("${base[@]}" --add --allow-principal "$who")
  local op
  IFS=, read -r -a opl <<<"$ops"
  for op in "${opl[@]}"; do cmd+=(--operation "$op"); done
  cmd+=("$@")
  if [ "$apply" -eq 1 ]; then
    "${cmd[@]}" >/dev/null || { echo "kafka-acls: failed: ${cmd[*]}" >&2; exit 1; }
    echo "applied: ${cmd[*]}"
  else
    printf '%q ' "${cmd[@]}"; echo
  fi
}
topic() { echo --topic "$prefix$1"; }

# producer: consumes commands and events, rebuilds from its state topic, writes everything
# else it decides, all in transactions.
acl "$producer" Read,Describe $(topic requests)
acl "$producer" Read,Write,Describe $(topic events)
acl "$producer" Read,Write,Describe $(topic releases)
acl "$producer" Write,Describe $(topic dlq)
acl "$producer" Write,Describe --resource-pattern-type prefixed $(topic jobs.s)
acl "$producer" Read --group "$pgroup"
acl "$producer" Write,Describe --transactional-id "$txid"
acl "$producer" IdempotentWrite --cluster
acl "$producer" Create,DescribeConfigs --resource-pattern-type prefixed --topic "$prefix"

# workers: consume jobs, report events, dead-letter what they cannot run.
acl "$worker" Read,Describe --resource-pattern-type prefixed $(topic jobs.s)
acl "$worker" Write,Describe $(topic events)
acl "$worker" Write,Describe $(topic dlq)
acl "$worker" Read --group "$wgroup"
acl "$worker" IdempotentWrite --cluster

# release managers' CLI: send commands, watch what happens. They never write jobs or events.
acl "$cli" Write,Describe $(topic requests)
acl "$cli" Read,Describe $(topic events)
acl "$cli" Read,Describe $(topic releases)
acl "$cli" Read,Describe $(topic dlq)
acl "$cli" Read --resource-pattern-type prefixed --group octofleet-cli-

if [ -n "$monitor" ]; then
  acl "$monitor" Read,Describe $(topic events)
  acl "$monitor" Read,Describe $(topic dlq)
  acl "$monitor" Read --resource-pattern-type prefixed --group "${prefix}monitor-"
fi
