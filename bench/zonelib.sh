# Shell helpers for the zone benchmarks (sourced): a busybox zone written by
# hand under $HULL_ROOT, as docs/internals.md lays it out.
bench_zone_make() {
	_d="$HULL_ROOT/$1"
	mkdir -p "$_d/root/bin" "$_d/root/sbin" "$_d/root/etc" "$_d/config"
	cp /bin/busybox "$_d/root/bin/busybox"
	for _a in $(/bin/busybox --list); do
		[ "$_a" = busybox ] || ln -sf busybox "$_d/root/bin/$_a"
	done
	printf '#!/bin/sh\nwhile true; do sleep 3600; done\n' >"$_d/root/sbin/init"
	chmod 755 "$_d/root/sbin/init"
	printf '{"uuid":"%s","brand":"joyent","hostname":"bench"}\n' "$1" \
		>"$_d/config/vm.json"
}

bench_zone_ctl() {
	/usr/bin/python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    c = s.recv(4096)
    if not c:
        break
    buf += c
print(buf.decode().strip())' "$HULL_ROOT/$1/run/control.sock" "$2"
}

bench_zone_pid() {
	bench_zone_ctl "$1" '{"cmd":"status"}' |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}

bench_zone_stop() {
	bench_zone_ctl "$1" '{"cmd":"stop","force":true}' >/dev/null 2>&1 || true
}

# Removes the benchmark's (empty, once its zones stopped) cgroup parent.
bench_cgroup_parent_remove() {
	for _h in /sys/fs/cgroup /sys/fs/cgroup/*; do
		[ -d "$_h/$HULL_CGROUP_PARENT" ] && rmdir "$_h/$HULL_CGROUP_PARENT" 2>/dev/null
	done
	true
}
