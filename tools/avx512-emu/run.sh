#!/usr/bin/env bash
# Runs Node and the addon on an emulated AVX-512 CPU, so that the x86-64-v4
# kernel level executes on a machine without AVX-512 (qemu's user and system
# emulators stop at AVX2). Bochs, Debian's build, interprets a Skylake-X
# (AVX-512 F/CD/BW/DQ/VL); Debian's kernel boots it from an ISO with an
# initramfs that holds busybox, this machine's node and its libraries, the
# package and its tests. The guest asks its CPU through CPUID and XGETBV, as
# everywhere, so the level is chosen as on a real AVX-512 machine; the run
# fails unless that level is v4.
#
#   bash tools/avx512-emu/run.sh [--tarball FILE] [--cpu MODEL] [spec files...]
#
# Default: the package as checked out (build/Release, or prebuilds/ with
# PREBUILDS_ONLY=1 when build/ is absent) and the numerical specs (test/10,
# 20, 30, 35, 50). --tarball: the package from `npm pack`, its prebuild only.
# --cpu: a Bochs model (corei7_skylake_x by default; `bochs -help cpu` lists
# them). Exit status: the guest's mocha status, or 3 when the guest never
# reported one (boot failure, timeout: ORTHO_AVX512_EMU_TIMEOUT seconds,
# 5400 by default).
#
# Slow: Bochs interprets every instruction. Booting takes about 3.5 minutes,
# the default specs about 13.5 more. Not part of the published package.
#
# Needs Debian's bochs bochsbios vgabios isolinux syslinux-common
# xorriso busybox-static cpio (installed when missing) and the kernel package
# linux-image-amd64 names (downloaded once into the work folder,
# $ORTHO_AVX512_EMU_DIR, by default ${TMPDIR:-/tmp}/orthogonium-avx512-emu).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=${ORTHO_AVX512_EMU_DIR:-${TMPDIR:-/tmp}/orthogonium-avx512-emu}
TIMEOUT=${ORTHO_AVX512_EMU_TIMEOUT:-5400}
CPU_MODEL=corei7_skylake_x
TARBALL=
SPECS=()
while (($#)); do
  case "$1" in
    --tarball) TARBALL=$(realpath "$2"); shift 2 ;;
    --cpu) CPU_MODEL=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) SPECS+=("$1"); shift ;;
  esac
done
((${#SPECS[@]})) || SPECS=(test/10.tensor.test.mjs test/20.forward.test.mjs test/30.backward.test.mjs test/35.fused.test.mjs test/50.errors.test.mjs)

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
need=()
for p in bochs bochsbios vgabios isolinux syslinux-common xorriso busybox-static cpio; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  echo "avx512-emu: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$W"
# Debian's current kernel, unpacked once.
if ! ls "$W"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
  kernel_package() { apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
  kpkg=$(kernel_package)
  [ -n "$kpkg" ] || { $sudo apt-get update -qq; kpkg=$(kernel_package); }
  echo "avx512-emu: downloading $kpkg"
  (cd "$W" && rm -f linux-image-*.deb && apt-get download "$kpkg" >/dev/null 2>&1)
  rm -rf "$W/kernel" && dpkg-deb -x "$W"/linux-image-*.deb "$W/kernel" && rm -f "$W"/linux-image-*.deb
fi

# The guest's root: busybox, node with its shared libraries, the package.
R=$W/root
rm -rf "$R" "$W/iso" && mkdir -p "$R"/{bin,proc,sys,dev,tmp,usr/bin,pkg} "$W/iso/isolinux"
cp /bin/busybox "$R/bin/"
NODE=$(command -v node)
cp -L "$NODE" "$R/usr/bin/node"
for lib in $(ldd "$NODE" | awk '/=>/ {print $3} /^[ \t]*\// {print $1}'); do
  mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
# node_modules without the largest packages that no spec imports.
dev_only=(--exclude=node_modules/typescript --exclude=node_modules/@shikijs --exclude=node_modules/typedoc --exclude=node_modules/@action-validator --exclude=node_modules/@types --exclude=node_modules/.cache)
if [ -n "$TARBALL" ]; then
  tar xzf "$TARBALL" -C "$R/pkg" --strip-components=1
  (cd "$ROOT" && tar cf - "${dev_only[@]}" test node_modules) | tar xf - -C "$R/pkg"
  rm -rf "$R/pkg/build"
  PREBUILDS_ONLY=1
else
  (cd "$ROOT" && tar cf - "${dev_only[@]}" package.json index.mjs dist lib test node_modules $(ls -d build/Release prebuilds 2>/dev/null)) | tar xf - -C "$R/pkg"
  PREBUILDS_ONLY=$([ -d "$ROOT/build/Release" ] && echo 0 || echo 1)
fi
[ -f "$R/pkg/dist/index.js" ] || { echo "avx512-emu: no dist/ in the package (run npx tsc -p . first)" >&2; exit 1; }

cat > "$R/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
export HOME=/tmp PATH=/usr/bin:/bin
[ "$PREBUILDS_ONLY" = 1 ] && export PREBUILDS_ONLY=1
cd /pkg
echo "avx512-emu: guest up; kernel \$(uname -r); \$(grep -m1 'model name' /proc/cpuinfo)"
node -e "
const c = require('./').backends().find((b) => b.name === 'cpu');
console.log('avx512-emu: cpu backend level ' + c.level + ' from ' + c.features.join(' '));
console.log('avx512-emu: ' + c.detail);
if (c.level !== 'v4') { console.error('avx512-emu: expected level v4'); process.exit(1); }
"
rc=\$?
if [ \$rc = 0 ]; then
  node node_modules/mocha/bin/mocha.js --no-config --timeout 0 --reporter dot --no-color test/00.setup.mjs ${SPECS[*]}
  rc=\$?
fi
echo "ORTHO-GUEST-EXIT \$rc"
sync; sleep 1
poweroff -f
EOF
chmod +x "$R/init"
# An uncompressed initramfs: the emulated kernel would take minutes to unzip one.
(cd "$R" && find . | cpio -o -H newc --quiet) > "$W/iso/initrd.cpio"
cp "$W"/kernel/boot/vmlinuz-* "$W/iso/vmlinuz"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$W/iso/isolinux/"
# clearcpuid=xsaves,xsavec: Bochs 2.7 reports a compacted XSAVE size that
# Linux rejects, which would leave AVX disabled; the standard format works.
cat > "$W/iso/isolinux/isolinux.cfg" <<'EOF'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  APPEND initrd=/initrd.cpio console=ttyS0,115200 quiet loglevel=3 mitigations=off clearcpuid=xsaves,xsavec tsc=reliable
EOF
xorriso -as mkisofs -quiet -o "$W/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table "$W/iso" 2>/dev/null

# Guest memory holds the initramfs twice while it unpacks, and node.
cat > "$W/bochsrc" <<EOF
megs: 2048
cpu: model=$CPU_MODEL, count=1, ips=16000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$W/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$W/serial.txt
# A VNC server that waits for no client: the display needs no terminal and
# never blocks the emulation (a text display does once nobody reads it).
display_library: rfb, options="timeout=0"
log: $W/bochs.log
panic: action=fatal
mouse: enabled=0
speaker: enabled=0
# No sound device and no host sound driver: where ALSA is installed, Bochs
# 2.7 loads its ALSA driver at start even with the speaker off, and aborts
# ("buffer overflow detected") when ALSA has no default device.
sound: driver=dummy
clock: sync=none
EOF
echo c > "$W/debugger.rc" # Debian's Bochs starts in its debugger: continue at once
rm -f "$W/serial.txt" && touch "$W/serial.txt"
echo "avx512-emu: booting $CPU_MODEL under Bochs (initramfs $(du -m "$W/iso/initrd.cpio" | cut -f1) MiB)"
start=$SECONDS
timeout "$TIMEOUT" bochs-bin -q -f "$W/bochsrc" -rc "$W/debugger.rc" </dev/null >"$W/bochs.out" 2>&1 &
bochs=$!
tail -n +1 -F "$W/serial.txt" --pid=$bochs 2>/dev/null | grep --line-buffered -v -E '^\[ *[0-9.]+\] reboot: ' || true
wait $bochs || true
echo "avx512-emu: $((SECONDS - start)) s under Bochs"
rc=$(sed -n 's/^ORTHO-GUEST-EXIT \([0-9]*\).*/\1/p' "$W/serial.txt" | tail -1)
if [ -z "$rc" ]; then
  echo "avx512-emu: the guest reported no result; see $W/serial.txt and $W/bochs.log" >&2
  exit 3
fi
exit "$rc"
