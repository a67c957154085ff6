#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0.0' }
# Get-NnlDevice against the built module (out/Nnl, from tools/test.sh or ./build.ps1).
# With a GPU the objects must agree with nvidia-smi; without the driver the error id must be stable.

BeforeDiscovery {
    $hasGpu = [bool](Get-Command nvidia-smi -ErrorAction Ignore)
}

Describe 'Get-NnlDevice' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../out/Nnl/Nnl.psd1') -Force -ErrorAction Stop
        $command = 'Nnl.PowerShell.Cmdlets.GetNnlDeviceCommand'
    }

    AfterAll {
        Remove-Module Nnl -ErrorAction Ignore
    }

    Context 'module surface' {
        It 'is exported by the Nnl module' {
            (Get-Command Get-NnlDevice).Module.Name | Should -Be 'Nnl'
        }

        It 'has offline help with a synopsis, examples and parameter help' {
            $help = Get-Help Get-NnlDevice -Full
            $help.Synopsis | Should -Match 'GPU'
            @($help.Examples.Example).Count | Should -BeGreaterThan 0
            ($help.Parameters.Parameter | Where-Object Name -EQ 'Index').Description.Text | Should -Not -BeNullOrEmpty
        }
    }

    Context 'on a machine with an NVIDIA GPU' -Skip:(-not $hasGpu) {
        BeforeAll {
            # nvidia-smi orders GPUs by PCI bus id, CUDA fastest first: compare as sorted lists.
            $expected = @(nvidia-smi '--query-gpu=name,memory.total' '--format=csv,noheader,nounits' |
                ForEach-Object { $name, $mib = $_ -split ',\s*'; '{0}|{1}' -f $name.Trim(), [long]$mib } | Sort-Object)
            $devices = @(Get-NnlDevice)
        }

        It 'writes one object per GPU that nvidia-smi lists' {
            $devices.Count | Should -Be $expected.Count
        }

        It 'reports each name and total memory (MiB) exactly as nvidia-smi does' {
            $actual = @($devices | ForEach-Object { '{0}|{1}' -f $_.Name, $_.TotalMemoryMiB } | Sort-Object)
            $actual | Should -Be $expected
        }

        It 'selects devices by index' {
            (Get-NnlDevice -Index 0).Index | Should -Be 0
        }

        It 'fails with CudaInvalidDevice for an index the driver does not know' {
            { Get-NnlDevice -Index $expected.Count -ErrorAction Stop } |
                Should -Throw -ErrorId "CudaInvalidDevice,$command"
        }
    }

    Context 'on a machine without the NVIDIA driver' -Skip:$hasGpu {
        It 'fails with the stable error id CudaDriverNotFound' {
            { Get-NnlDevice -ErrorAction Stop } | Should -Throw -ErrorId "CudaDriverNotFound,$command"
        }

        It 'reports the failure as ResourceUnavailable and says what is missing' {
            $failure = $null
            try { Get-NnlDevice -ErrorAction Stop } catch { $failure = $_ }
            $failure.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
            $failure.Exception.Message | Should -Match 'driver'
        }
    }
}
