#!/usr/bin/env bash
# Runs the vs command line, building it (Release) first when it is missing or older than its sources.
#   ./vs demo      the main job (as root)
#   ./vs --help    every command
set -euo pipefail
unset ArtifactsPath # the launcher always uses the repository's own artifacts folder
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exe="$here/artifacts/bin/VirtualStack.Host/release/vs"
stamp="$here/artifacts/.vs-built"
if [ ! -x "$exe" ] || [ ! -f "$stamp" ] ||
	[ -n "$(find "$here/host" "$here/contracts" "$here/plugins" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' \) -newer "$stamp" -print -quit)" ]; then
	echo "vs: building (Release)..." >&2
	dotnet build "$here/host/VirtualStack.Host.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >&2
	mkdir -p "$here/artifacts" && touch "$stamp"
fi
exec "$exe" "$@"
