#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Remove-NnlModel against the built module (out/Nnl): releases, -WhatIf, pipeline, idempotence.

Describe 'Remove-NnlModel' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        . (Join-Path $PSScriptRoot 'TinyModel.ps1')
        $dir = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny')
    }

    AfterAll {
        Remove-Module Nnl -ErrorAction Ignore
    }

    It 'is exported, supports -WhatIf and -Confirm, and documents -Model' {
        $cmd = Get-Command Remove-NnlModel
        $cmd.Module.Name | Should -Be 'Nnl'
        $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        $cmd.Parameters.Keys | Should -Contain 'Confirm'
        ((Get-Help Remove-NnlModel -Full).Parameters.Parameter | Where-Object Name -EQ 'Model').Description.Text | Should -Not -BeNullOrEmpty
    }

    It 'releases a model and writes nothing' {
        $m = Import-NnlModel $dir
        $out = Remove-NnlModel $m
        $out | Should -BeNullOrEmpty
        $m.IsLoaded | Should -BeFalse
    }

    It 'leaves the model loaded with -WhatIf' {
        $m = Import-NnlModel $dir
        Remove-NnlModel $m -WhatIf
        $m.IsLoaded | Should -BeTrue
        Remove-NnlModel $m
    }

    It 'releases every piped model' {
        $models = @(1..3 | ForEach-Object { Import-NnlModel $dir })
        $models | Remove-NnlModel
        $models.IsLoaded | Should -Not -Contain $true
    }

    It 'is harmless on a model already removed, and says so with -Verbose' {
        $m = Import-NnlModel $dir
        Remove-NnlModel $m
        $verbose = Remove-NnlModel $m -Verbose 4>&1
        ($verbose | Out-String) | Should -Match 'already removed'
    }

    It 'leaves other models usable' {
        $keep = Import-NnlModel $dir
        $drop = Import-NnlModel $dir
        Remove-NnlModel $drop
        (Invoke-NnlGenerate -Model $keep -Prompt 'abc' -MaxNewTokens 2).GeneratedTokens | Should -BeGreaterThan 0
        Remove-NnlModel $keep
    }
}
