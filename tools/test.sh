#!/usr/bin/env bash
# The test command (README; .ci/run runs it): builds with warnings as errors, lays out the module in
# out/Nnl, then runs every check and sums them:
#   build, NVRTC compile of each kernel, module layout, xunit tests, PowerShell parse check,
#   cmdlet surface check, Pester tests (when pwsh is installed).
# The last line is "N passed, N failed[, N skipped]"; the exit status is 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
skipped=0
configuration=Release
tools="dotnet tools/Nnl.BuildTools/bin/$configuration/net10.0/Nnl.BuildTools.dll"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

section() { printf '\n== %s\n' "$*"; }
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Adds the "N passed, N failed" summary that a sub-check printed last; a missing summary is a failure.
add_summary() { # <log> <what>
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    if [[ -z $line ]]; then
        fail "$2 printed no summary"
        return
    fi
    passed=$((passed + $(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")))
}

finish() {
    local summary="$passed passed, $failed failed"
    ((skipped > 0)) && summary+=", $skipped skipped"
    echo
    echo "$summary"
    ((failed == 0))
    exit $?
}

section "build (dotnet build Nnl.slnx -c $configuration -warnaserror)"
if dotnet build Nnl.slnx -c "$configuration" -warnaserror -nologo -v q; then
    ok "build"
else
    fail "build"
    finish
fi

section "kernels (NVRTC, one check per kernels/*.cu)"
if $tools compile-kernels kernels "$work/ptx"; then
    for cu in kernels/*.cu; do
        ptx="$work/ptx/$(basename "${cu%.cu}").ptx"
        if grep -q '^\.visible \.entry\|^\.entry' "$ptx" 2>/dev/null; then ok "$cu compiles to PTX with an entry point"; else fail "$cu: no kernel entry in $ptx"; fi
    done
else
    for cu in kernels/*.cu; do fail "$cu does not compile"; done
fi

section "module layout (out/Nnl: publish, manifest, formats, help)"
if $tools layout out/Nnl --configuration "$configuration" --no-build; then
    ok "layout out/Nnl"
    for f in Nnl.psd1 Nnl.PowerShell.dll Nnl.Engine.dll en-US/Nnl.PowerShell.dll-Help.xml en-US/about_Nnl.help.txt; do
        if [[ -s out/Nnl/$f ]]; then ok "out/Nnl/$f"; else fail "out/Nnl/$f missing"; fi
    done
else
    fail "layout out/Nnl"
fi

section "xunit (tests/Nnl.Engine.Tests)"
xunit="tests/Nnl.Engine.Tests/bin/$configuration/net10.0/Nnl.Engine.Tests"
"$xunit" -noColor 2>&1 | tee "$work/xunit.log"
xunit_rc=${PIPESTATUS[0]}
# "Nnl.Engine.Tests  Total: N, Errors: E, Failed: F, Skipped: S, Not Run: R, Time: ..."
summary=$(grep -E 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+, Skipped: [0-9]+' "$work/xunit.log" | tail -1)
if [[ -n $summary ]]; then
    total=$(sed -E 's/.*Total: ([0-9]+).*/\1/' <<<"$summary")
    errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$summary")
    xfailed=$(sed -E 's/.*Failed: ([0-9]+).*/\1/' <<<"$summary")
    xskipped=$(sed -E 's/.*Skipped: ([0-9]+).*/\1/' <<<"$summary")
    notrun=$(grep -oE 'Not Run: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + total - xfailed - xskipped - notrun))
    failed=$((failed + xfailed + errors))
    skipped=$((skipped + xskipped + notrun))
    if ((xunit_rc != 0 && xfailed + errors == 0)); then fail "xunit exited with $xunit_rc"; fi
else
    fail "xunit printed no summary (exit $xunit_rc)"
fi

section "PowerShell parse check (tools/ps-parse, tree-sitter-powershell)"
if ! command -v node >/dev/null; then
    fail "node not found: install Node.js 20+ for the parse check"
else
    if [[ ! -d tools/ps-parse/node_modules ]]; then
        (cd tools/ps-parse && npm install --no-audit --no-fund --loglevel=error) || fail "npm install in tools/ps-parse"
    fi
    node tools/ps-parse/parse.mjs . 2>&1 | tee "$work/parse.log"
    add_summary "$work/parse.log" "ps-parse"
    # The check must also fail when it should: a script with an unclosed block.
    mkdir -p "$work/broken"
    printf 'param([string]$Name)\nfunction Get-Broken {\n    if ($Name) { "x"\n}\n' >"$work/broken/broken.ps1"
    if node tools/ps-parse/parse.mjs "$work/broken" >"$work/broken.log" 2>&1; then
        fail "ps-parse accepted a broken script"
    elif grep -q 'broken.ps1:[0-9]*:[0-9]*: ' "$work/broken.log"; then
        ok "ps-parse rejects a broken script with file:line:col ($(grep -o 'broken.ps1:[0-9]*:[0-9]*: .*' "$work/broken.log" | head -1))"
    else
        fail "ps-parse failed on a broken script without naming file:line:col"; cat "$work/broken.log"
    fi
fi

section "cmdlet surface (built assembly vs Nnl.psd1 vs docs/)"
$tools check-surface out/Nnl/Nnl.PowerShell.dll out/Nnl/Nnl.psd1 docs 2>&1 | tee "$work/surface.log"
add_summary "$work/surface.log" "check-surface"

section "Pester (tests/Pester)"
pester_tests=$(cat tests/Pester/*.Tests.ps1 2>/dev/null | grep -cE '^\s*It\s' || true)
if command -v pwsh >/dev/null; then
    pwsh -NoProfile -NonInteractive -Command '
        $pester = Get-Module -ListAvailable Pester | Where-Object Version -ge "5.0.0" | Sort-Object Version -Descending | Select-Object -First 1
        if (-not $pester) { "Pester 5 is not installed (Install-Module Pester -MinimumVersion 5.0)"; exit 3 }
        Import-Module $pester
        $config = New-PesterConfiguration
        $config.Run.Path = "tests/Pester"
        $config.Run.PassThru = $true
        $config.Output.Verbosity = "Detailed"
        $result = Invoke-Pester -Configuration $config
        "pester: {0} passed, {1} failed, {2} skipped" -f $result.PassedCount, ($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount), ($result.SkippedCount + $result.NotRunCount)
    ' 2>&1 | tee "$work/pester.log"
    line=$(grep -E '^pester: [0-9]+ passed' "$work/pester.log" | tail -1)
    if [[ -n $line ]]; then
        read -r p f s < <(sed -E 's/^pester: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$line")
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    else
        skipped=$((skipped + pester_tests)); echo "skip $pester_tests Pester test(s): Pester 5 did not run"
    fi
else
    skipped=$((skipped + pester_tests))
    echo "skip $pester_tests Pester test(s): pwsh is not installed"
fi

finish
