#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# New-NnlModel against the built module (out/Nnl): presets, completion, stable error ids.

Describe 'New-NnlModel' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        $root = Join-Path ([System.IO.Path]::GetTempPath()) ("nnl-pester-" + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory -Path $root | Out-Null
    }

    AfterAll {
        Remove-Item -Recurse -Force $root -ErrorAction Ignore
        Remove-Module Nnl -ErrorAction Ignore
    }

    Context 'module surface' {
        It 'is exported by the Nnl module with help' {
            (Get-Command New-NnlModel).Module.Name | Should -Be 'Nnl'
            (Get-Help New-NnlModel -Full).Synopsis | Should -Match 'random weights'
        }

        It 'completes presets with a wildcard' {
            $line = 'New-NnlModel -Preset llama-2'
            $names = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
            $names | Should -Be @('llama-2-7b', 'llama-2-13b', 'llama-2-70b')
        }
    }

    Context 'writing a model' {
        It 'writes a directory that Nnl reads back' {
            $dir = Join-Path $root 'gpt2'
            $m = New-NnlModel gpt2 -Layers 1 -Path $dir -Seed 3
            $m.Architecture | Should -Be 'GPT2LMHeadModel'
            $m.Layers | Should -Be 1
            $m.Path | Should -Be $dir
            Test-Path (Join-Path $dir 'model.safetensors.index.json') | Should -BeTrue
            (Get-Content (Join-Path $dir 'config.json') -Raw | ConvertFrom-Json).torch_dtype | Should -Be 'float16'
        }

        It 'refuses a non-empty directory with a stable error id' {
            $dir = Join-Path $root 'gpt2'
            { New-NnlModel gpt2 -Layers 1 -Path $dir -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument,Nnl.PowerShell.Cmdlets.NewNnlModelCommand'
        }

        It 'names the bad field of a config' {
            $config = Join-Path $root 'bad.json'
            '{ "model_type": "llama", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 3, "num_hidden_layers": 1, "intermediate_size": 128, "vocab_size": 300 }' | Set-Content $config
            { New-NnlModel -Config $config -Path (Join-Path $root 'bad') -ErrorAction Stop } | Should -Throw -ErrorId 'ModelFormatInvalid,Nnl.PowerShell.Cmdlets.NewNnlModelCommand'
        }
    }
}
