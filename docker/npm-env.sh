# Sourced by the npm steps of the Dockerfile: the optional build arguments
# BUILD_CA (PEM text: certificates trusted besides Node's own, for a proxy that
# inspects TLS) and NPM_REGISTRY (another registry) become npm's environment.
if [ -n "${BUILD_CA:-}" ]; then
  printf '%s\n' "$BUILD_CA" >/tmp/build-ca.pem
  export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem
fi
if [ -n "${NPM_REGISTRY:-}" ]; then export npm_config_registry="$NPM_REGISTRY"; fi
