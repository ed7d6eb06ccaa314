#!/usr/bin/env bash
# Multi-user semantics of a shared (allow_other) mount: objects created by a
# non-root caller belong to that caller (group from a setgid parent), and
# permission checks give what the backing filesystem gives natively, even
# for paths root has already brought into the kernel's caches.
# usage: fs_users.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
chmod 755 "$backing" "$mnt"

mkdir -m 1777 "$backing/pub"
mkdir -m 700 "$backing/priv" && echo secret > "$backing/priv/secret" && chmod 644 "$backing/priv/secret"
echo x > "$backing/rootonly" && chmod 600 "$backing/rootonly"
mkdir "$backing/sg" && chown 0:4242 "$backing/sg" && chmod 2777 "$backing/sg"
echo grp > "$backing/grpfile" && chown 0:4243 "$backing/grpfile" && chmod 640 "$backing/grpfile"
echo r > "$backing/pub/rootfile"

it_mount "$shadowfs" "$backing" "$mnt" allow_other
# Root warms the caches first: lookups of priv/secret are now cached.
cat "$mnt/priv/secret" "$mnt/rootonly" > /dev/null || it_fail "root cannot read"

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
owner() { stat -c %u:%g "$1"; }

# New files, dirs, symlinks and nodes belong to the caller.
it_check "nobody creates a file" as_nobody touch "$mnt/pub/n1"
[ "$(owner "$backing/pub/n1")" = 65534:65534 ] || it_fail "file owner $(owner "$backing/pub/n1")"
it_check "nobody makes a dir" as_nobody mkdir "$mnt/pub/nd"
[ "$(owner "$backing/pub/nd")" = 65534:65534 ] || it_fail "dir owner"
it_check "nobody makes a symlink" as_nobody ln -s n1 "$mnt/pub/nsl"
[ "$(stat -c %u:%g "$backing/pub/nsl")" = 65534:65534 ] || it_fail "symlink owner"
it_check "nobody makes a fifo" as_nobody mkfifo "$mnt/pub/nfifo"
[ "$(owner "$backing/pub/nfifo")" = 65534:65534 ] || it_fail "fifo owner"
# The group comes from a setgid parent, and subdirectories inherit setgid.
it_check "nobody creates in setgid dir" as_nobody touch "$mnt/sg/n2"
[ "$(owner "$backing/sg/n2")" = 65534:4242 ] || it_fail "setgid file owner $(owner "$backing/sg/n2")"
it_check "nobody mkdir in setgid dir" as_nobody mkdir "$mnt/sg/nd2"
[ "$(stat -c %g:%A "$backing/sg/nd2")" = 4242:drwxr-sr-x ] || it_fail "setgid dir $(stat -c %g:%A "$backing/sg/nd2")"
# The umask of the caller applies (once).
it_check "umask applied" as_nobody sh -c "umask 077; touch '$mnt/pub/masked'"
[ "$(stat -c %a "$backing/pub/masked")" = 600 ] || it_fail "mode with umask 077: $(stat -c %a "$backing/pub/masked")"

# Permission checks match the backing filesystem.
as_nobody cat "$mnt/rootonly" 2>/dev/null && it_fail "nobody read a 0600 root file"
as_nobody cat "$mnt/priv/secret" 2>/dev/null && it_fail "nobody read through a 0700 dir"
as_nobody stat "$mnt/priv/secret" >/dev/null 2>&1 && it_fail "nobody stat'ed through a 0700 dir"
as_nobody touch "$mnt/n3" 2>/dev/null && it_fail "nobody created in a 0755 root dir"
as_nobody rm -f "$mnt/pub/rootfile" 2>/dev/null && it_fail "nobody removed root's file in a sticky dir"
[ -e "$backing/pub/rootfile" ] || it_fail "sticky dir file gone"
as_nobody chmod 777 "$mnt/rootonly" 2>/dev/null && it_fail "nobody chmod'ed root's file"
as_nobody sh -c "echo >> '$mnt/rootonly'" 2>/dev/null && it_fail "nobody wrote root's file"
# Supplementary groups count.
as_nobody cat "$mnt/grpfile" >/dev/null 2>&1 && it_fail "nobody read a group file without the group"
it_check "supplementary group grants read" \
  setpriv --reuid=65534 --regid=65534 --groups=4243 cat "$mnt/grpfile"
# All of them, past the daemon's first buffer of 256 too (NGROUPS_MAX is
# 65536): a file and a directory of the 300th of 300 groups.
echo g > "$backing/g300" && chown 0:10300 "$backing/g300" && chmod 640 "$backing/g300"
mkdir -m 770 "$backing/gd300" && chown 0:10300 "$backing/gd300"
many=$(seq -s, 10001 10300)
[ "$(setpriv --reuid=65534 --regid=65534 --groups="$many" cat "$mnt/g300")" = g ] ||
  it_fail "the 300th supplementary group does not grant read"
it_check "the 300th supplementary group grants mkdir" \
  setpriv --reuid=65534 --regid=65534 --groups="$many" mkdir "$mnt/gd300/x"
# POSIX ACLs: an ACL entry grants access the mode bits do not, and a
# parent's default ACL replaces the caller's umask for new files.
echo acl > "$backing/aclfile" && chmod 600 "$backing/aclfile"
setfacl -m u:65534:r "$backing/aclfile" || it_fail "setfacl on backing"
[ "$(as_nobody cat "$mnt/aclfile")" = acl ] || it_fail "an ACL entry did not grant read"
mkdir -m 777 "$backing/acldir" && setfacl -d -m u::rw,g::rw,o::- "$backing/acldir" || it_fail "default ACL"
it_check "create under a default ACL" as_nobody sh -c "umask 022; touch '$mnt/acldir/inh'"
[ "$(stat -c %a "$backing/acldir/inh")" = 660 ] || it_fail "default ACL ignored: mode $(stat -c %a "$backing/acldir/inh")"

# Privileged xattr namespaces (trusted.*, security.*) need the caller's own privilege:
# not readable, writable or listed by nobody, though the daemon has CAP_SYS_ADMIN.
it_check "nobody creates a file for xattrs" as_nobody touch "$mnt/pub/x1"
setfattr -n trusted.t -v v "$mnt/pub/x1" || it_fail "root cannot set trusted.t"
as_nobody setfattr -n trusted.u -v v "$mnt/pub/x1" 2>/dev/null && it_fail "nobody set a trusted.* xattr"
as_nobody setfattr -n security.s -v v "$mnt/pub/x1" 2>/dev/null && it_fail "nobody set a security.* xattr"
as_nobody getfattr -n trusted.t "$mnt/pub/x1" >/dev/null 2>&1 && it_fail "nobody read a trusted.* xattr"
# (getfattr -d names a listed attribute it cannot read on stderr.)
as_nobody getfattr -d -m - "$mnt/pub/x1" 2>&1 | grep -q trusted && it_fail "nobody listed trusted.*"
# Root lists trusted.* names, a root process without CAP_SYS_ADMIN (a
# service's bounding set) does not, as natively.
getfattr -d -m - "$mnt/pub/x1" 2>/dev/null | grep -q '^trusted\.t=' || it_fail "root does not list trusted.*"
setpriv --bounding-set=-sys_admin getfattr -d -m - "$mnt/pub/x1" 2>&1 | grep -q trusted &&
  it_fail "root without CAP_SYS_ADMIN listed trusted.*"
it_check "nobody sets user.* on own file" as_nobody setfattr -n user.mine -v 1 "$mnt/pub/x1"
# The caller's own file is writable, readable and removable by the caller.
it_check "nobody writes own file" as_nobody sh -c "echo mine > '$mnt/pub/n1'"
[ "$(as_nobody cat "$mnt/pub/n1")" = mine ] || it_fail "nobody reads own file"
it_check "nobody chmods own file" as_nobody chmod 600 "$mnt/pub/n1"
it_check "nobody removes own file" as_nobody rm "$mnt/pub/n1"
# A write-only file of the caller still works with the writeback cache.
it_check "write-only file" as_nobody sh -c "echo a > '$mnt/pub/wo' && chmod 200 '$mnt/pub/wo' && echo b >> '$mnt/pub/wo'"
[ "$(cat "$backing/pub/wo")" = "$(printf 'a\nb')" ] || it_fail "write-only file content"
fs_umount "$mnt"
echo "PASS fs_users"
