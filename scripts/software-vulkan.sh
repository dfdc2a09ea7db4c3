#!/usr/bin/env bash
# Mesa's software Vulkan driver (lavapipe) in a private folder, so that WebGPU (Dawn) finds an
# adapter on a machine without a GPU: the webgpu backend's tests run on it. Debian bookworm's
# Mesa 22.3 lacks features Dawn requires (shaderUniform*ArrayDynamicIndexing); Mesa 25 from
# bookworm-backports has them. Packages are fetched with apt-get download, using a sources list
# and package lists of its own, and unpacked with dpkg -x: the system's apt sources and its
# installed packages stay as they are, and no root is needed.
#
#   scripts/software-vulkan.sh [DIR]     default DIR: $XP_CACHE_DIR, else $XDG_CACHE_HOME/xp,
#                                        else ~/.cache/xp; the driver goes to DIR/lavapipe
#   export LD_LIBRARY_PATH=DIR/lavapipe/lib VK_DRIVER_FILES=DIR/lavapipe/lvp_icd.json
set -euo pipefail
cache=${1:-${XP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xp}}
dir=$cache/lavapipe
selects="export LD_LIBRARY_PATH=$dir/lib VK_DRIVER_FILES=$dir/lvp_icd.json"
if [ -f "$dir/lvp_icd.json" ] && [ -e "$dir/lib/libvulkan.so.1" ]; then
  echo "lavapipe already in $dir; to use it: $selects"
  exit 0
fi
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
cat >"$work/sources.list" <<EOF
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-backports main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Architecture=$arch"
  -o APT::Sandbox::User="$(id -un)")
apt-get "${apt_opts[@]}" -qq update
# The driver and the libdrm it needs from backports, the Vulkan loader, and whichever of the
# driver's other dependencies (bookworm's) this system lacks.
wanted=(mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports libvulkan1)
deps=$(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances --no-pre-depends "$(apt-cache "${apt_opts[@]}" show mesa-vulkan-drivers/bookworm-backports \
  | sed -n 's/^Version: /mesa-vulkan-drivers=/p' | head -1)" | grep -v '^ ' | grep -v '^<' | sort -u)
for dep in $deps; do
  case " ${wanted[*]} " in *" $dep/"* | *" $dep "*) continue ;; esac
  dpkg -s "$dep" >/dev/null 2>&1 || wanted+=("$dep")
done
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${wanted[@]}")
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$dir.tmp/root"; done
# One folder of every library unpacked, wherever its package put it (/usr/lib or /lib).
mkdir "$dir.tmp/lib"
for lib in "$dir.tmp"/root/usr/lib/*-linux-gnu/*.so* "$dir.tmp"/root/lib/*-linux-gnu/*.so*; do
  [ -e "$lib" ] && ln -sf "../${lib#"$dir.tmp/"}" "$dir.tmp/lib/"
done
# The ICD names its library without a path: LD_LIBRARY_PATH finds it in lib/.
cp "$dir.tmp/root/usr/share/vulkan/icd.d/lvp_icd.json" "$dir.tmp/lvp_icd.json"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "lavapipe (Mesa $(dpkg-deb -f "$work"/debs/mesa-vulkan-drivers_*.deb Version)) in $dir; to use it: $selects"
