#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Import-NnlModel against the built module (out/Nnl): loading, pipeline binding, parameter checks,
# stable error ids, completers; on a machine with a GPU, an offloaded import under a budget.

BeforeDiscovery {
    $hasGpu = [bool](Get-Command nvidia-smi -ErrorAction Ignore)
}

Describe 'Import-NnlModel' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        . (Join-Path $PSScriptRoot 'TinyModel.ps1')
        $command = 'Nnl.PowerShell.Cmdlets.ImportNnlModelCommand'
        $dir = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny')
        $loaded = [System.Collections.Generic.List[object]]::new()
    }

    AfterAll {
        $loaded | Where-Object IsLoaded | Remove-NnlModel
        Remove-Module Nnl -ErrorAction Ignore
    }

    Context 'module surface' {
        It 'is exported by the Nnl module' {
            (Get-Command Import-NnlModel).Module.Name | Should -Be 'Nnl'
        }

        It 'documents every parameter' {
            $help = Get-Help Import-NnlModel -Full
            @($help.Examples.Example).Count | Should -BeGreaterThan 0
            foreach ($name in 'Path', 'Device', 'MaxGpuMemory', 'PrefetchDepth', 'ResidentLayers', 'NoHostCache', 'NoCudaGraph', 'KvCacheType', 'ContextLength', 'Threads') {
                ($help.Parameters.Parameter | Where-Object Name -EQ $name).Description.Text | Should -Not -BeNullOrEmpty -Because "-$name needs help"
            }
        }
    }

    Context 'on the CPU' {
        It 'describes the model it loaded' {
            $m = Import-NnlModel -Path $dir
            $loaded.Add($m)
            $m.Architecture | Should -Be 'GPT2LMHeadModel'
            $m.Layers | Should -Be 2
            $m.HiddenSize | Should -Be 32
            $m.VocabSize | Should -Be 400
            $m.DType | Should -Be 'F32'
            $m.Device | Should -Be 'Cpu'
            $m.IsLoaded | Should -BeTrue
            $m.Path | Should -Be (Resolve-Path $dir).ProviderPath
            $m.BudgetBytes | Should -BeNullOrEmpty
        }

        It 'binds -Path to the FullName of piped directories' {
            $m = Get-Item $dir | Import-NnlModel
            $loaded.Add($m)
            $m.Path | Should -Be (Get-Item $dir).FullName
        }

        It 'loads one model per piped path' {
            $second = New-TinyNnlModel -Path (Join-Path $TestDrive 'tiny2') -Seed 8
            $models = @($dir, $second | Import-NnlModel)
            $models | ForEach-Object { $loaded.Add($_) }
            $models.Count | Should -Be 2
            $models[1].Path | Should -Be (Resolve-Path $second).ProviderPath
        }

        It 'shows the default table with parameters in millions' {
            $m = Import-NnlModel $dir
            $loaded.Add($m)
            $text = $m | Format-Table | Out-String
            $text | Should -Match 'Architecture'
            $text | Should -Match ('{0:N1}M' -f ($m.Parameters / 1e6))
        }

        It 'rejects GPU-only parameters with InvalidArgument' {
            { Import-NnlModel $dir -MaxGpuMemory 2GB -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument,$command"
            { Import-NnlModel $dir -NoHostCache -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument,$command"
            { Import-NnlModel $dir -NoCudaGraph -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument,$command"
            { Import-NnlModel $dir -KvCacheType fp32 -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument,$command"
        }

        It 'accepts only a number or Auto for -ResidentLayers' {
            { Import-NnlModel $dir -ResidentLayers 'some' -ErrorAction Stop } | Should -Throw -ErrorId "ParameterArgumentValidationError,$command"
        }

        It 'fails with ModelFormatInvalid on a broken config.json' {
            $broken = Join-Path $TestDrive 'broken'
            Copy-Item $dir $broken -Recurse
            Set-Content (Join-Path $broken 'config.json') '{ "architectures": ['
            { Import-NnlModel $broken -ErrorAction Stop } | Should -Throw -ErrorId "ModelFormatInvalid,$command"
        }
    }

    Context 'tab completion' {
        It 'offers folders that hold a model for -Path' {
            New-Item -ItemType Directory (Join-Path $TestDrive 'not-a-model') | Out-Null
            Push-Location $TestDrive
            try {
                $line = 'Import-NnlModel -Path '
                $found = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.ListItemText
                $found | Should -Contain 'tiny'
                $found | Should -Not -Contain 'not-a-model'
            }
            finally { Pop-Location }
        }

        It 'offers Cpu for -Device and Auto for -ResidentLayers' {
            $line = 'Import-NnlModel -Device C'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'Cpu'
            $line = 'Import-NnlModel -ResidentLayers '
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'Auto'
        }
    }

    Context 'on a machine with an NVIDIA GPU' -Skip:(-not $hasGpu) {
        It 'offloads under a budget and reports the bound' {
            $m = Import-NnlModel $dir -Device Cuda:0 -MaxGpuMemory 256MB -PrefetchDepth 2 -ResidentLayers 0
            $loaded.Add($m)
            $m.Device | Should -Be 'Cuda:0'
            $m.BudgetBytes | Should -Be 256MB
            $m.StreamedNodes | Should -BeGreaterThan 0
            $m.StreamedBytesPerToken | Should -BeGreaterThan 0
            $m.PinnedHostToDeviceGBps | Should -BeGreaterThan 0
            $m.BoundMillisecondsPerToken | Should -BeGreaterThan 0
            $m.BoundMillisecondsPerToken | Should -BeLessThan ($m.StreamedBytesPerToken / $m.PinnedHostToDeviceGBps / 1e6 * 1.001)
        }

        It 'completes -Device with Cuda:0' {
            $line = 'Import-NnlModel -Device Cu'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'Cuda:0'
        }
    }
}
