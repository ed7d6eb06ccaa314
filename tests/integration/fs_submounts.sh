#!/usr/bin/env bash
# Filesystems mounted below BACKING (two tmpfs here, whose inode numbers
# repeat each other's): the mount is one device, and it showed their inode
# numbers as they are, so two directories or files on different devices
# had the same (st_dev, st_ino) through the mount and du, find, tar, cp -a
# and rsync -H took them for one (du --total counted s2 as s1: 1 MiB where
# natively 3). Checked: inode numbers of objects below the submounts are all
# distinct and those of BACKING's own objects unchanged; hard links within
# a submount still share one; readdir's d_ino (ls -i) agrees with stat; du
# counts what it counts natively; the numbers are the same after a remount.
# Usage: fs_submounts.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
mkdir -p "$backing/s1" "$backing/s2" "$backing/own"
it_tmpfs "$backing/s1" 16m
it_tmpfs "$backing/s2" 16m
for s in s1 s2; do mkdir "$backing/$s/d"; done
head -c 1048576 /dev/urandom >"$backing/s1/f"
head -c 2097152 /dev/urandom >"$backing/s2/f"
ln "$backing/s1/f" "$backing/s1/f.link"
echo own >"$backing/own/g"
[ "$(stat -c %i "$backing/s1/f")" = "$(stat -c %i "$backing/s2/f")" ] ||
  echo "note: the two tmpfs gave their files different numbers here"

ino_list() { stat -c '%i %n' "$mnt/s1" "$mnt/s2" "$mnt/s1/d" "$mnt/s2/d" "$mnt/s1/f" "$mnt/s2/f"; }
it_mount "$SHADOWFS" "$backing" "$mnt" ""
inos=$(ino_list) || it_fail "stat through the mount"
n=$(awk '{ print $1 }' <<<"$inos" | sort -u | wc -l)
[ "$n" = 6 ] || it_fail "objects on two devices share inode numbers through the mount: $inos"
for p in own own/g; do
  [ "$(stat -c %i "$mnt/$p")" = "$(stat -c %i "$backing/$p")" ] || it_fail "BACKING's own $p changed its inode number"
done
[ "$(stat -c %i "$mnt/s1/f")" = "$(stat -c %i "$mnt/s1/f.link")" ] || it_fail "hard links in a submount no longer share an inode number"
for s in s1 s2; do
  # ls -i takes d_ino from readdir
  while read -r ino name; do
    [ "$ino" = "$(stat -c %i "$mnt/$s/$name")" ] || it_fail "$s/$name: readdir's d_ino $ino, stat's $(stat -c %i "$mnt/$s/$name")"
  done < <(ls -i1 "$mnt/$s")
done
want=$(du -s --total "$backing/s1" "$backing/s2" | tail -1 | cut -f1)
got=$(du -s --total "$mnt/s1" "$mnt/s2" | tail -1 | cut -f1)
[ "$got" = "$want" ] || it_fail "du --total through the mount: $got, natively $want"
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" ""
[ "$(ino_list)" = "$inos" ] || it_fail "inode numbers changed at the remount: $(ino_list) against $inos"
it_umount "$mnt"
echo "PASS: distinct inode numbers across submounts, BACKING's unchanged, du as native, stable across a remount"
