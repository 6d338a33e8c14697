# shellcheck shell=bash
# Building Go programs from the Go module proxy into the cache ($CACHE must be set).
#   go_setup                         the machine's Go (or 60-k8s.sh's toolchain) and cache dirs
#   go_install PKG@VER LDFLAGS DEST  `go install` one command into DEST, atomically
#   go_wrapper_build MOD VER PKG LDFLAGS DEST
#       for modules whose go.mod has exclude or replace directives (which `go install pkg@version`
#       refuses): a tiny wrapper module requires MOD, copies those directives and starts from MOD's
#       go.sum, so the selected dependency versions are exactly MOD's own.
go_log() { echo "[setup go] $*" >&2; }

go_setup() {
  if [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  elif ! command -v go >/dev/null; then
    # The toolchain 60-k8s.sh fetches when the machine has no Go.
    for g in "$CACHE"/go-toolchain/go*/bin/go; do [[ -x $g ]] && export PATH="${g%/go}:$PATH"; done
  fi
  command -v go >/dev/null || { go_log "go is required (https://go.dev/dl, or run 60-k8s.sh first)"; exit 1; }
  export GOMODCACHE="$CACHE/go/mod"
  export GOCACHE="$CACHE/go/build"
  # `go install pkg@version` refuses -mod (the wrapper build adds -mod=mod).
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  # With "auto" an older Go fetches the toolchain a module requires from the Go module proxy (into
  # GOMODCACHE) instead of failing.
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
  mkdir -p "$GOMODCACHE" "$GOCACHE"
}

go_install() {
  local pkg="$1" ldflags="$2" dest="$3" tmp start
  tmp="$(dirname "$dest")/.gobin.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  start=$(date +%s)
  go_log "building ${dest##*/} from $pkg ($(go env GOVERSION))"
  GOBIN="$tmp" nice -n 10 go install -trimpath -ldflags "$ldflags" "$pkg"
  local built=("$tmp"/*)
  [[ ${#built[@]} -eq 1 && -x ${built[0]} ]] || { go_log "go install left no single binary in $tmp"; exit 1; }
  mv "${built[0]}" "$dest"
  rm -rf "$tmp"
  go_log "built $dest in $(($(date +%s) - start))s"
}

go_wrapper_build() {
  local mod="$1" version="$2" pkg="$3" ldflags="$4" dest="$5" work dir start
  start=$(date +%s)
  work="$(dirname "$dest")/.src"
  rm -rf "$work" && mkdir -p "$work" "$(dirname "$dest")"
  go_log "fetching $mod@$version"
  dir="$(go mod download -json "$mod@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  [[ -f $dir/go.mod && -f $dir/go.sum ]] || { go_log "no go.mod/go.sum in $dir"; exit 1; }
  # Its go version, then its directives as go mod edit flags (module-to-module replaces only).
  mapfile -t meta < <(go mod edit -json "$dir/go.mod" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["Go"])
for e in d.get("Exclude") or []:
    print("-exclude=" + e["Path"] + "@" + e["Version"])
for r in d.get("Replace") or []:
    new = r["New"]
    if new.get("Version"):
        old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
        print("-replace=" + old + "=" + new["Path"] + "@" + new["Version"])')
  [[ ${#meta[@]} -ge 1 && -n ${meta[0]} ]] || { go_log "could not read $dir/go.mod"; exit 1; }
  printf 'module code-mcp/wrapper\n\ngo %s\n\nrequire %s %s\n' "${meta[0]}" "$mod" "$version" >"$work/go.mod"
  for flag in "${meta[@]:1}"; do go mod edit "$flag" "$work/go.mod"; done
  cp "$dir/go.sum" "$work/go.sum"
  # Keep the command's import visible to `go mod tidy`.
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$work/tools.go"
  (
    cd "$work" || exit 1
    export GOFLAGS="-buildvcs=false -mod=mod"
    go_log "resolving modules for $mod $version"
    go mod tidy >&2
    go_log "building ${dest##*/} ($(go env GOVERSION))"
    nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$dest.tmp" "$pkg"
  )
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  go_log "built $dest in $(($(date +%s) - start))s"
}
