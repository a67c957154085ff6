#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Invoke-NnlGenerate against the built module (out/Nnl): results, -Stream, pipeline binding of
# models and prompts, batching, seeds, stop strings, error ids; on a GPU, the offload statistics.

BeforeDiscovery {
    $hasGpu = [bool](Get-Command nvidia-smi -ErrorAction Ignore)
}

Describe 'Invoke-NnlGenerate' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        . (Join-Path $PSScriptRoot 'TinyModel.ps1')
        $command = 'Nnl.PowerShell.Cmdlets.InvokeNnlGenerateCommand'
        $dir = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny') -Seed 11
        $m = Import-NnlModel $dir
        # A prompt made fresh for this run: letters drawn with a fixed seed.
        $random = [System.Random]::new(4711)
        $prompt = -join (1..16 | ForEach-Object { [char]$random.Next(97, 123) })
    }

    AfterAll {
        if ($m.IsLoaded) { Remove-NnlModel $m }
        Remove-Module Nnl -ErrorAction Ignore
    }

    Context 'module surface' {
        It 'is exported and documents every parameter, the bound and efficiency' {
            (Get-Command Invoke-NnlGenerate).Module.Name | Should -Be 'Nnl'
            $help = Get-Help Invoke-NnlGenerate -Full
            foreach ($name in 'Model', 'Prompt', 'MaxNewTokens', 'Temperature', 'TopK', 'TopP', 'RepetitionPenalty', 'Seed', 'StopString', 'Stream') {
                ($help.Parameters.Parameter | Where-Object Name -EQ $name).Description.Text | Should -Not -BeNullOrEmpty -Because "-$name needs help"
            }
            ($help.Description.Text -join "`n") | Should -Match 'Efficiency'
        }
    }

    Context 'results' {
        It 'writes one result per prompt with its counts and speed' {
            $r = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 8
            $r.Prompt | Should -Be $prompt
            $r.PromptTokens | Should -Be @(ConvertTo-NnlToken $dir $prompt -AddSpecialTokens).Count
            $r.GeneratedTokens | Should -BeIn (1..8)
            $r.TokenIds.Count | Should -Be $r.GeneratedTokens
            $r.TokensPerSecond | Should -BeGreaterThan 0
            $r.Device | Should -Be 'Cpu'
        }

        It 'decodes greedily and repeatably by default' {
            $a = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 10
            $b = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 10
            $b.Text | Should -BeExactly $a.Text
            $b.Seed | Should -BeNullOrEmpty
        }

        It 'gives the same sample for the same seed' {
            $a = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 12 -Temperature 1.5 -TopK 0 -Seed 99
            $b = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 12 -Temperature 1.5 -TopK 0 -Seed 99
            $b.TokenIds | Should -Be $a.TokenIds
            $a.Seed | Should -Be 99
            $others = 1..8 | ForEach-Object { (Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 12 -Temperature 1.5 -TopK 0 -Seed $_).TokenIds -join ',' }
            $others | Where-Object { $_ -ne ($a.TokenIds -join ',') } | Should -Not -BeNullOrEmpty
        }

        It 'shows the statistics in its default table' {
            $text = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 4 | Format-Table | Out-String
            $text | Should -Match 'Tok/s'
            $text | Should -Match 'ms/token'
            $text | Should -Match 'Efficiency'
        }

        It 'stops before a stop string and says so' {
            $full = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 24
            if ($full.Text.Length -lt 4) { Set-ItResult -Skipped -Because 'the random model ended too soon' ; return }
            $stop = $full.Text.Substring(2, 2)
            $r = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 24 -StopString $stop
            $r.Text | Should -BeExactly $full.Text.Substring(0, $full.Text.IndexOf($stop))
            $r.StopReason | Should -Be 'StopString'
        }
    }

    Context '-Stream' {
        It 'writes tokens whose texts join into the text of the result' {
            $r = Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 12
            $tokens = @(Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 12 -Stream)
            $tokens | Should -HaveCount $r.GeneratedTokens
            -join ($tokens | ForEach-Object Text) | Should -BeExactly $r.Text
            $tokens.Id | Should -Be $r.TokenIds
            $tokens[0].GetType().Name | Should -Be 'NnlGeneratedToken'
        }

        It 'reaches ForEach-Object as each token comes' {
            $seen = [System.Collections.Generic.List[double]]::new()
            Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 6 -Stream | ForEach-Object { $seen.Add($_.ElapsedMilliseconds) }
            $seen.Count | Should -BeGreaterThan 0
            for ($i = 1; $i -lt $seen.Count; $i++) { $seen[$i] | Should -BeGreaterOrEqual $seen[$i - 1] }
        }
    }

    Context 'pipeline' {
        It 'batches piped prompts and keeps their order' {
            $prompts = 'alpha', 'beta gamma', $prompt
            $results = @($prompts | Invoke-NnlGenerate -Model $m -MaxNewTokens 5)
            $results.Count | Should -Be 3
            $results.PromptIndex | Should -Be 0, 1, 2
            $results.Prompt | Should -Be $prompts
            # Batched or not, greedy decoding gives each prompt the same text.
            $results[2].Text | Should -BeExactly (Invoke-NnlGenerate -Model $m -Prompt $prompt -MaxNewTokens 5).Text
        }

        It 'takes the model from the pipeline' {
            ($m | Invoke-NnlGenerate -Prompt $prompt -MaxNewTokens 3).Prompt | Should -Be $prompt
        }

        It 'binds Model and Prompt by property name' {
            $r = [pscustomobject]@{ Model = $m; Prompt = $prompt } | Invoke-NnlGenerate -MaxNewTokens 3
            $r.Prompt | Should -Be $prompt
        }
    }

    Context 'errors' {
        It 'fails with InvalidArgument for a removed model' {
            $gone = Import-NnlModel $dir
            Remove-NnlModel $gone
            { Invoke-NnlGenerate -Model $gone -Prompt 'x' -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument,$command"
        }

        It 'validates sampling parameters before running' {
            { Invoke-NnlGenerate -Model $m -Prompt 'x' -TopP 1.5 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError'
        }
    }

    Context 'on a machine with an NVIDIA GPU' -Skip:(-not $hasGpu) {
        BeforeAll {
            $gpu = Import-NnlModel $dir -Device Cuda:0 -MaxGpuMemory 256MB -ResidentLayers 0
        }
        AfterAll {
            if ($gpu.IsLoaded) { Remove-NnlModel $gpu }
        }

        It 'reports the offload statistics and an efficiency of bound over time per token' {
            $r = Invoke-NnlGenerate -Model $gpu -Prompt $prompt -MaxNewTokens 16
            $r.StreamedBytesPerToken | Should -BeGreaterThan 0
            $r.BoundMillisecondsPerToken | Should -BeGreaterThan 0
            $r.MillisecondsPerToken | Should -BeGreaterThan 0
            $r.Efficiency | Should -BeGreaterThan 0
            [math]::Abs($r.Efficiency - $r.BoundMillisecondsPerToken / $r.MillisecondsPerToken) | Should -BeLessThan 1e-9
            $r.PeakGpuMemoryBytes | Should -BeLessOrEqual 256MB
        }

        It 'streams tokens with the bytes each pass streamed' {
            $tokens = @(Invoke-NnlGenerate -Model $gpu -Prompt $prompt -MaxNewTokens 4 -Stream)
            $tokens[-1].StreamedBytes | Should -BeGreaterThan 0
        }
    }
}
