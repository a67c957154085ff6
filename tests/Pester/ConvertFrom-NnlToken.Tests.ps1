#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# ConvertFrom-NnlToken against the built module (out/Nnl): ids back to text, from parameters and
# from the pipeline (numbers and NnlToken objects).

Describe 'ConvertFrom-NnlToken' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        . (Join-Path $PSScriptRoot 'TinyModel.ps1')
        $dir = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny')
        $random = [System.Random]::new(99)
        $text = -join (1..30 | ForEach-Object { [char]$random.Next(32, 127) }) + ' Grüße, 東京'
        $ids = (ConvertTo-NnlToken $dir $text).Id
    }

    AfterAll {
        Remove-Module Nnl -ErrorAction Ignore
    }

    It 'is exported and documents every parameter' {
        (Get-Command ConvertFrom-NnlToken).Module.Name | Should -Be 'Nnl'
        $help = Get-Help ConvertFrom-NnlToken -Full
        foreach ($name in 'Path', 'Id', 'SkipSpecialTokens') {
            ($help.Parameters.Parameter | Where-Object Name -EQ $name).Description.Text | Should -Not -BeNullOrEmpty -Because "-$name needs help"
        }
    }

    It 'turns ids back into the text' {
        ConvertFrom-NnlToken $dir -Id $ids | Should -BeExactly $text
    }

    It 'decodes piped ids as one sequence' {
        $out = @($ids | ConvertFrom-NnlToken $dir)
        $out | Should -HaveCount 1
        $out[0] | Should -BeExactly $text
    }

    It 'takes the Id of piped tokens' {
        ConvertTo-NnlToken $dir $text | ConvertFrom-NnlToken $dir | Should -BeExactly $text
    }

    It 'leaves special tokens out with -SkipSpecialTokens' {
        $model = Get-Content (Join-Path $dir 'config.json') | ConvertFrom-Json
        $withEos = @($ids) + $model.eos_token_id
        (ConvertFrom-NnlToken $dir -Id $withEos).Length | Should -BeGreaterThan $text.Length
        ConvertFrom-NnlToken $dir -Id $withEos -SkipSpecialTokens | Should -BeExactly $text
    }

    It 'rejects negative ids before running' {
        { ConvertFrom-NnlToken $dir -Id -1 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError'
    }
}
