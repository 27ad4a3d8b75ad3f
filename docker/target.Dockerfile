# A small SSH target for the compose demo (compose.yaml): Debian with sshd and
# a `scan` account. At start it takes the controller's public key from the
# shared /keys volume (the first target to start makes the key pair) and adds
# its own host key to /keys/known_hosts, so the controller verifies it strictly.
# The account gets password '*' (none, but not locked): sshd refuses locked ones.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-server openssh-client procps iproute2 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --shell /bin/sh scan && usermod -p '*' scan \
 && mkdir -p /run/sshd
COPY target-entrypoint.sh /usr/local/bin/target-entrypoint.sh
EXPOSE 22
HEALTHCHECK --interval=2s --timeout=2s --retries=30 CMD test -f /run/sshd.pid
ENTRYPOINT ["/bin/sh", "/usr/local/bin/target-entrypoint.sh"]
