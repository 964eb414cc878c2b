#!/bin/sh
# Run a command in a private network namespace with only loopback up (the network rule in
# /work/shared/conventions.md): DDS discovery cannot leave this machine, or even this namespace.
#   tests/ros/netns.sh <domain_id> <command...>
set -e
dom="$1"; shift
exec unshare -n sh -c '
  ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || exit 97
  export ROS_DOMAIN_ID="$0" ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  export CYCLONEDDS_URI="<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"lo\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>30</MaxAutoParticipantIndex><Peers><Peer address=\"127.0.0.1\"/></Peers></Discovery></Domain></CycloneDDS>"
  exec "$@"' "$dom" "$@"
