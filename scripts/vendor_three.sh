#!/usr/bin/env bash
# Re-fetch the browser libraries that the web app (t2mgpt serve) vendors, from the npm registry:
# three.js (the 3D viewer) and swagger-ui-dist (the /docs page), so nothing loads from a CDN.
#   bash scripts/vendor_three.sh [THREE_VERSION] [SWAGGER_UI_VERSION]
# Writes src/t2mgpt/serve/static/vendor/: three.module.min.js, three.core.min.js,
# OrbitControls.js, LICENSE-three.txt, swagger-ui/{swagger-ui-bundle.js,swagger-ui.css,LICENSE}.
set -euo pipefail
VERSION="${1:-0.184.0}"
SWAGGER_VERSION="${2:-5.35.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/src/t2mgpt/serve/static/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "three@$VERSION" >/dev/null && tar xzf "three-$VERSION.tgz")
PKG="$TMP/package"
mkdir -p "$DEST"
cp "$PKG/build/three.module.min.js" "$PKG/build/three.core.min.js" "$DEST/"
cp "$PKG/examples/jsm/controls/OrbitControls.js" "$DEST/OrbitControls.js"
cp "$PKG/LICENSE" "$DEST/LICENSE-three.txt"
(cd "$TMP" && rm -rf package && npm pack --silent "swagger-ui-dist@$SWAGGER_VERSION" >/dev/null \
  && tar xzf "swagger-ui-dist-$SWAGGER_VERSION.tgz")
mkdir -p "$DEST/swagger-ui"
# without the source map comment, so that no browser asks for the (unshipped) .map file
sed '/^\/\/# sourceMappingURL=/d' "$PKG/swagger-ui-bundle.js" > "$DEST/swagger-ui/swagger-ui-bundle.js"
sed '/sourceMappingURL=/d' "$PKG/swagger-ui.css" > "$DEST/swagger-ui/swagger-ui.css"
cp "$PKG/LICENSE" "$PKG/swagger-ui-bundle.js.LICENSE.txt" "$DEST/swagger-ui/"
printf 'three %s\nswagger-ui-dist %s\n' "$VERSION" "$SWAGGER_VERSION" > "$DEST/VERSIONS"
echo "three@$VERSION and swagger-ui-dist@$SWAGGER_VERSION vendored into $DEST"
