#!/bin/sh
# Entry point of the demo SSH target (target.Dockerfile). $TARGET_NAME is the
# name the controller uses for this host (the compose service name).
set -eu
name=${TARGET_NAME:?set TARGET_NAME to the host name the controller uses}
ssh-keygen -A >/dev/null
mkdir -p /keys
# The first target makes the controller's key pair; the lock keeps the others waiting.
flock /keys/.lock sh -c '
  if [ ! -f /keys/id_ed25519 ]; then
    ssh-keygen -q -t ed25519 -N "" -C octoscan-demo -f /keys/id_ed25519
    chown 10001:10001 /keys/id_ed25519   # the controller runs as uid 10001
    chmod 600 /keys/id_ed25519
  fi
  grep -v "^$0 " /keys/known_hosts 2>/dev/null > /keys/known_hosts.new || true
  printf "%s %s\n" "$0" "$(cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)" >> /keys/known_hosts.new
  mv /keys/known_hosts.new /keys/known_hosts
  chmod 644 /keys/known_hosts
' "$name"
install -d -o scan -g scan -m 700 /home/scan/.ssh
install -o scan -g scan -m 600 /keys/id_ed25519.pub /home/scan/.ssh/authorized_keys
exec /usr/sbin/sshd -D -e
