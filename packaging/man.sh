#!/bin/sh
# man.sh TOOL NAME DESCRIPTION OUT - a man page for TOOL made by help2man from
# its own --help and --version, with a COMMANDS section holding every
# subcommand's --help: the page is the program's help, so it cannot drift.
set -eu
tool=$1 name=$2 desc=$3 out=$4
inc=$out.inc
: >"$inc.tmp"
printf '[COMMANDS]\n' >>"$inc.tmp"
# The subcommands are the indented names under "commands:" in TOOL --help.
for cmd in $("$tool" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'); do
  printf '.SS "%s %s"\n.nf\n' "$name" "$cmd" >>"$inc.tmp"
  # roff: a backslash is \e; a line starting with . or ' is not a request.
  "$tool" "$cmd" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" >>"$inc.tmp"
  printf '.fi\n' >>"$inc.tmp"
done
mv "$inc.tmp" "$inc"
help2man --no-info --no-discard-stderr --name="$desc" --include="$inc" \
  --output="$out.tmp" "$tool"
rm -f "$inc"
mv "$out.tmp" "$out"
