#!/usr/bin/env bash
# Builds the real Pulumi engine the end-to-end tests run, from Go modules, and caches it by version:
# the CLI, the Node.js language host, the Kubernetes provider and the dynamic-provider launcher.
# No prebuilt binary is used. A second run finds everything cached and takes seconds.
#
#   scripts/build-engine.sh            build what is missing, print where each tool is
#
# Versions are in scripts/toolchain.json (the tests read the same file).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/jetstream-eventbus"
versions="$here/toolchain.json"
version_of() { node -p "require('$versions').$1"; }

pulumi_version=$(version_of pulumi.version)
sdk_version=$(version_of languageHost.sdkVersion)
k8s_version=$(version_of kubernetesProvider.version)
k8s_module=$(version_of kubernetesProvider.module)

export GOFLAGS=-mod=mod GOWORK=off
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Copies a Go module's source (read-only in the module cache) to $work/$2, writable.
module_copy() {
  local dir
  dir=$(go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  cp -r "$dir" "$work/$2"
  chmod -R u+w "$work/$2"
}

timed() { # label, command...
  local start=$SECONDS
  "${@:2}"
  echo "built $1 in $((SECONDS - start)) s"
}

# Pulumi CLI. The version flag matters: the Automation API refuses a CLI without one.
cli="$cache/pulumi/v$pulumi_version/pulumi"
if [ ! -x "$cli" ]; then
  build_cli() {
    module_copy "github.com/pulumi/pulumi/pkg/v3@v$pulumi_version" pkg
    sed -i '/^replace github.com\/pulumi\/pulumi\/sdk\/v3 => ..\/sdk/d' "$work/pkg/go.mod"
    (cd "$work/pkg" && go build -o "$cli.tmp" \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" ./cmd/pulumi)
    mv "$cli.tmp" "$cli"
  }
  mkdir -p "$(dirname "$cli")"
  timed "pulumi $pulumi_version" build_cli
fi

# The Node.js language host: its own module is not published, but the SDK module of this release
# still contains it.
host="$cache/pulumi-language-nodejs/v$sdk_version/pulumi-language-nodejs"
if [ ! -x "$host" ]; then
  build_host() {
    module_copy "github.com/pulumi/pulumi/sdk/v3@v$sdk_version" sdk
    sed -i '/^replace /d' "$work/sdk/go.mod"
    (cd "$work/sdk" && go build -o "$host.tmp" ./nodejs/cmd/pulumi-language-nodejs)
    mv "$host.tmp" "$host"
  }
  mkdir -p "$(dirname "$host")"
  timed "pulumi-language-nodejs (sdk $sdk_version)" build_host
fi

# The launcher of Node.js dynamic providers, a shell script shipped in the SDK module of the CLI's release.
launcher="$cache/pulumi/v$pulumi_version/pulumi-resource-pulumi-nodejs"
if [ ! -x "$launcher" ]; then
  dir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$pulumi_version" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')
  install -m 0755 "$dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$launcher"
fi

# The Kubernetes provider. Its build embeds the schema that generate.go writes first.
k8s="$cache/pulumi-kubernetes/v$k8s_version/pulumi-resource-kubernetes"
if [ ! -x "$k8s" ]; then
  build_k8s() {
    module_copy "github.com/pulumi/pulumi-kubernetes/provider/v4@$k8s_module" k8s
    sed -i '/^replace github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => ..\/sdk/d' "$work/k8s/go.mod"
    (cd "$work/k8s/cmd/pulumi-resource-kubernetes" && VERSION="$k8s_version" go run ./generate.go >/dev/null &&
      go build -o "$k8s.tmp" -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$k8s_version" .)
    mv "$k8s.tmp" "$k8s"
  }
  mkdir -p "$(dirname "$k8s")"
  timed "pulumi-resource-kubernetes $k8s_version" build_k8s
fi

echo "pulumi:                     $cli ($("$cli" version))"
echo "pulumi-language-nodejs:     $host"
echo "pulumi-resource-kubernetes: $k8s"
