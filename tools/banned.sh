#!/bin/sh
# tools/banned.sh - fail when C sources call functions STYLE.md bans
# (unbounded copies and unchecked parsers).
set -eu
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|sscanf|strtok)[[:space:]]*\('
if grep -rnE "$pattern" --include='*.c' --include='*.h' gateway ca protocols \
    distribute include tests 2>/dev/null | grep -v '^\s*/\*'; then
	echo "banned function used (see STYLE.md section 7)" >&2
	exit 1
fi
echo "banned.sh: no banned functions"
