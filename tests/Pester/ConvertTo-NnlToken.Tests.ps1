#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# ConvertTo-NnlToken against the built module (out/Nnl): tokens of texts, pipeline batching,
# special tokens, error ids.

Describe 'ConvertTo-NnlToken' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        . (Join-Path $PSScriptRoot 'TinyModel.ps1')
        $command = 'Nnl.PowerShell.Cmdlets.ConvertToNnlTokenCommand'
        $dir = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny')
        $random = [System.Random]::new(2024)
        $text = -join (1..40 | ForEach-Object { [char]$random.Next(32, 127) }) + ' naïve café ✓'
    }

    AfterAll {
        Remove-Module Nnl -ErrorAction Ignore
    }

    It 'is exported and documents every parameter' {
        (Get-Command ConvertTo-NnlToken).Module.Name | Should -Be 'Nnl'
        $help = Get-Help ConvertTo-NnlToken -Full
        foreach ($name in 'Path', 'Text', 'AddSpecialTokens') {
            ($help.Parameters.Parameter | Where-Object Name -EQ $name).Description.Text | Should -Not -BeNullOrEmpty -Because "-$name needs help"
        }
    }

    It 'writes tokens whose bytes join into the text' {
        $tokens = @(ConvertTo-NnlToken $dir $text)
        $tokens.Count | Should -BeGreaterThan 0
        $bytes = [byte[]]@($tokens | ForEach-Object { $_.Bytes })
        [System.Text.Encoding]::UTF8.GetString($bytes) | Should -BeExactly $text
        $tokens.Index | Should -Be (0..($tokens.Count - 1))
        $tokens.InputIndex | Select-Object -Unique | Should -Be 0
    }

    It 'tokenizes piped texts in order, numbering the inputs' {
        $tokens = @('first', 'second text', $text | ConvertTo-NnlToken $dir)
        $tokens.InputIndex | Select-Object -Unique | Should -Be 0, 1, 2
        -join ($tokens | Where-Object InputIndex -EQ 1 | ForEach-Object Text) | Should -BeExactly 'second text'
    }

    It 'accepts a tokenizer file as well as a model directory' {
        (ConvertTo-NnlToken (Join-Path $dir 'tokenizer.json') $text).Id | Should -Be (ConvertTo-NnlToken $dir $text).Id
    }

    It 'writes an empty text as no tokens' {
        @(ConvertTo-NnlToken $dir '') | Should -HaveCount 0
    }

    It 'shows a default table' {
        (ConvertTo-NnlToken $dir 'ab' | Format-Table | Out-String) | Should -Match 'Piece'
    }

    It 'fails with TokenizerFormatInvalid on a broken tokenizer.json' {
        $broken = Join-Path $TestDrive 'broken.json'
        Set-Content $broken '{ "model": { "type": "BPE", "vocab": '
        { ConvertTo-NnlToken $broken 'x' -ErrorAction Stop } | Should -Throw -ErrorId "TokenizerFormatInvalid,$command"
    }
}
