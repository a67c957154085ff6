<#
.SYNOPSIS
    Builds, tests or cleans Nnl.

.DESCRIPTION
    Build: dotnet build with warnings as errors (kernels are compiled with NVRTC as part of it), then
    lays out the importable module in out/Nnl: the published assemblies, Nnl.psd1 with the version of
    the build, the format files, and MAML help made from docs/*.md.
    Test:  runs the xunit tests and, when Pester 5 is installed, the Pester tests against out/Nnl.
    Clean: removes out/ and every bin/ and obj/ folder.

    bash tools/test.sh runs the same steps plus the parse and surface checks; CI runs that.

.EXAMPLE
    ./build.ps1

.EXAMPLE
    ./build.ps1 -Task Clean, Build, Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Clean')]
    [string[]]$Task = 'Build',

    [string]$Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Set-Location -LiteralPath $PSScriptRoot

$moduleDir = Join-Path $PSScriptRoot 'out/Nnl'
$buildTools = Join-Path $PSScriptRoot "tools/Nnl.BuildTools/bin/$Configuration/net10.0/Nnl.BuildTools.dll"

function Invoke-Native {
    # Runs a native command and stops the build when it fails ($ErrorActionPreference does not cover exit codes).
    param([string]$FilePath, [string[]]$ArgumentList)
    Write-Host "> $FilePath $($ArgumentList -join ' ')" -ForegroundColor DarkGray
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "$FilePath exited with $LASTEXITCODE"
    }
}

function Invoke-Clean {
    if (Test-Path -LiteralPath 'out') {
        Remove-Item -LiteralPath 'out' -Recurse -Force
    }
    foreach ($root in 'src', 'tests', 'tools') {
        Get-ChildItem -LiteralPath $root -Directory -Recurse -Include 'bin', 'obj' |
            Where-Object { $_.FullName -notmatch '[\\/]node_modules[\\/]' } |
            Remove-Item -Recurse -Force
    }
}

function Invoke-Build {
    Invoke-Native dotnet @('build', 'Nnl.slnx', '-c', $Configuration, '-warnaserror', '-nologo', '-v', 'q')
    # layout publishes the module, writes the manifest version and compiles docs/*.md into en-US help.
    Invoke-Native dotnet @($buildTools, 'layout', $moduleDir, '--configuration', $Configuration, '--no-build')
}

function Invoke-Test {
    if (-not (Test-Path -LiteralPath (Join-Path $moduleDir 'Nnl.psd1'))) {
        Invoke-Build
    }
    $xunit = Join-Path $PSScriptRoot "tests/Nnl.Engine.Tests/bin/$Configuration/net10.0/Nnl.Engine.Tests"
    if ($IsWindows) {
        $xunit += '.exe'
    }
    Invoke-Native $xunit @('-noColor')

    $pester = Get-Module -ListAvailable -Name Pester |
        Where-Object Version -GE ([version]'5.0.0') |
        Sort-Object Version -Descending |
        Select-Object -First 1
    if (-not $pester) {
        Write-Warning 'Pester 5 is not installed; skipping tests/Pester (Install-Module Pester -MinimumVersion 5.0.0).'
        return
    }
    # A child process, so the module loaded by the tests does not stay locked in this session.
    $script = "Import-Module '$($pester.Path)'; `$r = Invoke-Pester -Path 'tests/Pester' -Output Detailed -PassThru; exit `$r.FailedCount"
    Invoke-Native (Get-Process -Id $PID).Path @('-NoProfile', '-NonInteractive', '-Command', $script)
}

foreach ($step in $Task) {
    Write-Host "== $step" -ForegroundColor Cyan
    switch ($step) {
        'Clean' { Invoke-Clean }
        'Build' { Invoke-Build }
        'Test' { Invoke-Test }
    }
}
