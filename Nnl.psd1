# Module manifest for Nnl. ModuleVersion is a placeholder: `Nnl.BuildTools layout` writes the version
# of the built Nnl.PowerShell.dll (from Directory.Build.props <Version>) into out/Nnl/Nnl.psd1.
@{
    RootModule           = 'Nnl.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = 'd21a091d-2081-45a2-8f4e-7474f63de202'
    Author               = 'Nnl developers'
    CompanyName          = 'Nnl developers'
    Copyright            = '(c) Nnl developers. MIT License.'
    Description          = 'Runs large language models on GPUs smaller than the model by streaming weights over PCIe, with a GPU memory pool and GPU benchmarks, all as PowerShell pipeline objects.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'

    # Explicit lists, never '*': the surface check compares CmdletsToExport with the built assembly.
    CmdletsToExport      = @(
        'Get-NnlDevice'
        'Measure-NnlTransfer'
        'New-NnlModel'
        'Measure-NnlInference'
        'Export-NnlChart'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    FormatsToProcess     = @(
        'Formats/Nnl.Device.Format.ps1xml'
        'Formats/Nnl.Transfer.Format.ps1xml'
        'Formats/Nnl.Benchmark.Format.ps1xml'
    )

    PrivateData          = @{
        PSData = @{
            Tags         = @('CUDA', 'GPU', 'LLM', 'Inference', 'Offloading', 'Benchmark', 'NVIDIA', 'PSEdition_Core', 'Linux', 'Windows')
            # Placeholders until the repository has a public home.
            LicenseUri   = 'https://example.invalid/nnl/LICENSE'
            ProjectUri   = 'https://example.invalid/nnl'
            ReleaseNotes = 'First preview: Get-NnlDevice.'
        }
    }
}
