#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Measure-NnlInference and Export-NnlChart against the built module (out/Nnl), on the CPU.

Describe 'Measure-NnlInference' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        $root = Join-Path ([System.IO.Path]::GetTempPath()) ("nnl-pester-" + [guid]::NewGuid().ToString('N'))
        $model = New-NnlModel gpt2 -Layers 1 -Path (Join-Path $root 'm')
    }

    AfterAll {
        Remove-Item -Recurse -Force $root -ErrorAction Ignore
        Remove-Module Nnl -ErrorAction Ignore
    }

    It 'takes the model from the pipeline and writes one record per point' {
        $points = @($model | Measure-NnlInference -PromptLength 4 -Tokens 2, 3 -Warmup 0 -Repetitions 1)
        $points.Count | Should -Be 2
        $points | ForEach-Object { $_.DecodeMillisecondsPerTokenMedian | Should -BeGreaterThan 0 }
        $points[0].Device | Should -Be 'Cpu'
    }

    It 'charts the points with Export-NnlChart' {
        $svg = Join-Path $root 'chart.svg'
        $file = $model | Measure-NnlInference -PromptLength 4 -Tokens 2 -Warmup 0 -Repetitions 1 | Export-NnlChart $svg
        $file.FullName | Should -Be $svg
        ([xml](Get-Content $svg -Raw)).svg | Should -Not -BeNullOrEmpty
    }
}
