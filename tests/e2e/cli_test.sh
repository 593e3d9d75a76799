# The imagen command line: help lists every subcommand, unbuilt ones say so
# and fail, bad configuration is a clear error with exit code 2.
IMAGEN=$1
source "$(dirname "$0")/lib.sh"

help=$("$IMAGEN" --help)
for sub in serve infer run models keys bench engine version config; do
  check "--help lists $sub" grep -qE "^  $sub( |$)" <<<"$help"
done
check "version prints the version" contains "$("$IMAGEN" version)" "imagen 0."

for sub in infer run models keys bench engine; do
  set +e; out=$("$IMAGEN" "$sub" 2>&1); rc=$?; set -e
  # A subcommand that exists now must not print the placeholder message.
  if contains "$out" "not built yet"; then
    check "$sub exits non-zero while not built" test "$rc" -ne 0
  fi
done

set +e
out=$("$IMAGEN" serve --workers many 2>&1); rc=$?
set -e
check "bad flag value exits 2" test "$rc" -eq 2
check "bad flag value names the key" contains "$out" "'workers' expects an integer, got 'many'"

set +e
out=$(IMAGEN_WORKRES=3 "$IMAGEN" serve 2>&1); rc=$?
set -e
check "unknown IMAGEN_ variable exits 2" test "$rc" -eq 2
check "unknown IMAGEN_ variable is named" contains "$out" "IMAGEN_WORKRES"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'workers = 3\n[server]\nlisen = "x"\n' >"$tmp/bad.toml"
set +e
out=$("$IMAGEN" serve --config "$tmp/bad.toml" 2>&1); rc=$?
set -e
check "unknown key in file exits 2" test "$rc" -eq 2
check "unknown key in file names file:line and key" contains "$out" "bad.toml:3: unknown configuration key 'server.lisen'"

printf 'workers = 3\n' >"$tmp/ok.toml"
eff=$(IMAGEN_WORKERS=4 "$IMAGEN" config --effective --config "$tmp/ok.toml")
check "env beats file" contains "$eff" "workers = 4  # env"
eff=$(IMAGEN_WORKERS=4 "$IMAGEN" config --effective --config "$tmp/ok.toml" --workers 6)
check "flag beats env" contains "$eff" "workers = 6  # flag"
eff=$("$IMAGEN" config --effective --config "$tmp/ok.toml")
check "file beats default" contains "$eff" "workers = 3  # file"
finish
