#!/usr/bin/env bash
# Builds the .deb from a configured and built tree with CPack (as `make package` does), then
# checks it: control data (name, version, shared-library dependencies, maintainer scripts),
# every expected path with its mode and owner, the unit's ExecStart, the template as committed;
# and installs it into a scratch root with `dpkg --root` (maintainer scripts run chrootless with
# $DPKG_ROOT): the edgehubd account, /var/lib/edgehubd 0750, /run/edgehubd, then removes it.
# usage: check_package.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd) src=$(cd "${2:?source dir}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if ! "$@"; then echo "FAIL: $what"; fail=1; fi
}

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; echo "FAIL: cpack"; exit 1; }
deb=$(ls "$work"/out/edgehubd_*.deb)
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

info=$(dpkg-deb --info "$deb")
field() { dpkg-deb --field "$deb" "$1"; }
check "Package is edgehubd" test "$(field Package)" = edgehubd
version=$(sed -n 's/^project(edgehubd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
check "Version is the project's ($version)" test "$(field Version)" = "$version"
depends=$(field Depends)
for lib in libc6 libstdc++6 libssl3 libsqlite3-0 libsystemd0 systemd; do
  check "Depends names $lib (got: $depends)" grep -qw -- "$lib" <<<"$depends"
done
for script in postinst prerm postrm conffiles; do
  check "control has $script" grep -qw "$script" <<<"$info"
done
check "the template is a conffile" \
  bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/aziot/config.toml.edgehubd.template"

contents=$(dpkg-deb --contents "$deb")
expect() {  # expect MODE PATH
  local line
  line=$(awk -v p="./${2#/}" '$6 == p' <<<"$contents")
  if [[ -z $line ]]; then echo "FAIL: $2 is not in the package"; fail=1; return; fi
  [[ $(awk '{print $1}' <<<"$line") == "$1" ]] || { echo "FAIL: $2 has mode $(awk '{print $1}' <<<"$line"), want $1"; fail=1; }
  [[ $(awk '{print $2}' <<<"$line") == root/root ]] || { echo "FAIL: $2 is not owned by root/root"; fail=1; }
}
expect -rwxr-xr-x /usr/bin/edgehubd
expect -rwxr-xr-x /usr/bin/edgehubctl
expect -rw-r--r-- /usr/lib/systemd/system/edgehubd.service
expect -rw-r--r-- /usr/lib/sysusers.d/edgehubd.conf
expect -rw-r--r-- /usr/lib/tmpfiles.d/edgehubd.conf
expect -rw-r--r-- /etc/aziot/config.toml.edgehubd.template
expect -rw-r--r-- /usr/share/bash-completion/completions/edgehubctl
for doc in README.md LICENSE operations.md configuration.md metrics.md; do
  expect -rw-r--r-- "/usr/share/doc/edgehubd/$doc"
done
check "nothing under /usr/local" bash -c "! grep -q ' ./usr/local' <<<\"\$1\"" _ "$contents"

mkdir -p "$work/files"
dpkg-deb --extract "$deb" "$work/files"
check "the unit starts /usr/bin/edgehubd" \
  grep -qx 'ExecStart=/usr/bin/edgehubd --config /etc/aziot/config.toml --log-target journal' \
  "$work/files/usr/lib/systemd/system/edgehubd.service"
check "the template is packaged as committed" \
  cmp -s "$work/files/etc/aziot/config.toml.edgehubd.template" "$src/packaging/config.toml.edgehubd.template"
check "the packaged binary runs" "$work/files/usr/bin/edgehubctl" --version
check "the packaged binaries are stripped" \
  bash -c "! readelf -S '$work/files/usr/bin/edgehubd' | grep -q '\.debug_info'"

# Install into a scratch root. dpkg runs the maintainer scripts on this host with DPKG_ROOT set
# (--force-script-chrootless); the root has no other packages, hence --force-depends.
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg_root=(dpkg --root="$root" --log=/dev/null --force-script-chrootless --force-depends)
[[ $(id -u) -eq 0 ]] || dpkg_root=(fakeroot "${dpkg_root[@]}" --force-not-root)
if "${dpkg_root[@]}" -i "$deb" >"$work/install.log" 2>&1; then
  check "installed binary" test -x "$root/usr/bin/edgehubd"
  check "the edgehubd user exists" grep -q '^edgehubd:' "$root/etc/passwd"
  check "the edgehubd group exists" grep -q '^edgehubd:' "$root/etc/group"
  uid=$(awk -F: '$1 == "edgehubd" {print $3}' "$root/etc/passwd")
  for dir in /var/lib/edgehubd /run/edgehubd /etc/aziot/edgehubd; do
    check "$dir exists" test -d "$root$dir"
    [[ -d $root$dir ]] || continue
    check "$dir is 0750 (got $(stat -c %a "$root$dir"))" test "$(stat -c %a "$root$dir")" = 750
    if [[ $(id -u) -eq 0 ]]; then
      check "$dir is owned by edgehubd (uid $uid)" test "$(stat -c %u "$root$dir")" = "$uid"
    fi
  done
  check "dpkg knows the package" \
    bash -c "dpkg --root='$root' -s edgehubd 2>/dev/null | grep -q '^Status: install ok installed'"
  if "${dpkg_root[@]}" -r edgehubd >>"$work/install.log" 2>&1; then
    check "remove deletes the binary" test ! -e "$root/usr/bin/edgehubd"
    check "remove keeps the state directory" test -d "$root/var/lib/edgehubd"
  else
    cat "$work/install.log"; echo "FAIL: dpkg -r"; fail=1
  fi
else
  cat "$work/install.log"; echo "FAIL: dpkg -i --root"; fail=1
fi

((fail == 0)) && echo "package $(basename "$deb") checked: control data, contents, modes, install and remove"
exit $fail
