#!/bin/sh
# Makes a tree of manifests for the linter benchmark: the real-world corpus
# copied again and again into DIR/NNNNN/ until it holds at least MB
# megabytes and MIN_FILES files. Usage: gen-tree.sh CORPUS DIR MB [MIN_FILES]
set -eu
corpus=$1 dir=$2 mb=$3 min_files=${4:-0}
mkdir -p "$dir"
bytes=0 files=0 copy=0
per_copy=$(cat "$corpus"/*.y*ml | wc -c)
per_files=$(ls "$corpus"/*.y*ml | wc -l)
while [ "$bytes" -lt $((mb * 1000000)) ] || [ "$files" -lt "$min_files" ]; do
	d=$(printf '%s/%05d' "$dir" "$copy")
	mkdir -p "$d"
	cp "$corpus"/*.y*ml "$d/"
	bytes=$((bytes + per_copy)) files=$((files + per_files)) copy=$((copy + 1))
done
echo "$files files, $bytes bytes in $dir"
