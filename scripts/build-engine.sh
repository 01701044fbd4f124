#!/usr/bin/env bash
# Builds the real Pulumi engine and the Kubernetes control plane the end-to-end tests run, from Go
# modules, and caches them by version: the CLI, the Node.js language host, the Kubernetes provider and
# the dynamic-provider launcher; kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok
# (which plays the kubelet of fake nodes). No prebuilt binary is used. A second run finds everything
# cached and takes seconds.
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
kube_version=$(version_of kubernetes.version)
etcd_version=$(version_of etcd.version)
kwok_version=$(version_of kwok.version)

export GOFLAGS=-mod=mod GOWORK=off
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# The folder of a Go module in the module cache (downloaded if needed), read-only.
module_dir() {
  go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))'
}

# Copies a Go module's source to $work/$2, writable.
module_copy() {
  local dir
  dir=$(module_dir "$1")
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
  dir=$(module_dir "github.com/pulumi/pulumi/sdk/v3@v$pulumi_version")
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

# The control plane. kubernetes/kubernetes is served as a module whose go.mod points its k8s.io/*
# dependencies at ./staging, which the module zip does not contain: require the published releases of
# the same version instead. The version flags make clients (and the Kubernetes provider) see v$kube_version.
kube="$cache/kubernetes/v$kube_version"
kube_commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
kube_missing=()
for command in "${kube_commands[@]}"; do [ -x "$kube/$command" ] || kube_missing+=("$command"); done
if [ "${#kube_missing[@]}" -gt 0 ]; then
  build_kube() {
    module_copy "k8s.io/kubernetes@v$kube_version" kubernetes
    (
      cd "$work/kubernetes"
      rm -rf go.work go.work.sum vendor
      sed -i -E '/^[[:space:]]*k8s\.io\/[a-z0-9-]+ => \.\/staging\//d; s/^([[:space:]]*k8s\.io\/[a-z0-9-]+) v0\.0\.0$/\1 v0.'"${kube_version#1.}"'/' go.mod
      local flags="-X k8s.io/component-base/version.gitVersion=v$kube_version -X k8s.io/component-base/version.gitMajor=${kube_version%%.*}"
      flags="$flags -X k8s.io/component-base/version.gitMinor=$(echo "$kube_version" | cut -d. -f2)"
      for command in "${kube_missing[@]}"; do
        go build -o "$kube/$command.tmp" -ldflags "$flags" "./cmd/$command"
        mv "$kube/$command.tmp" "$kube/$command"
      done
    )
  }
  mkdir -p "$kube"
  timed "kubernetes $kube_version (${kube_missing[*]})" build_kube
fi

# etcd, the release line Kubernetes $kube_version is tested with. Its server module replaces its sibling
# modules with local paths; the published ones of the same release are used instead.
etcd="$cache/etcd/v$etcd_version/etcd"
if [ ! -x "$etcd" ]; then
  build_etcd() {
    module_copy "go.etcd.io/etcd/server/v3@v$etcd_version" etcd
    sed -i '/^replace (/,/^)/d; /^replace /d' "$work/etcd/go.mod"
    (cd "$work/etcd" && go build -o "$etcd.tmp" .)
    mv "$etcd.tmp" "$etcd"
  }
  mkdir -p "$(dirname "$etcd")"
  timed "etcd $etcd_version" build_etcd
fi

# kwok plays the kubelet of fake nodes (pod status, port-forward). Its PortForward CRD comes with it:
# the tests create one per pod, pointing at the nats-server that answers for that pod.
kwok="$cache/kwok/v$kwok_version"
if [ ! -x "$kwok/kwok" ] || [ ! -f "$kwok/portforwards-crd.yaml" ]; then
  build_kwok() {
    (cd "$work" && GOBIN="$kwok" go install "sigs.k8s.io/kwok/cmd/kwok@v$kwok_version")
    dir=$(module_dir "sigs.k8s.io/kwok@v$kwok_version")
    install -m 0644 "$dir/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" "$kwok/portforwards-crd.yaml"
  }
  mkdir -p "$kwok"
  timed "kwok $kwok_version" build_kwok
fi

echo "pulumi:                     $cli ($("$cli" version))"
echo "pulumi-language-nodejs:     $host"
echo "pulumi-resource-kubernetes: $k8s"
echo "kubernetes control plane:   $kube ($("$kube/kube-apiserver" --version))"
echo "etcd:                       $etcd ($("$etcd" --version | head -1))"
echo "kwok:                       $kwok/kwok"
