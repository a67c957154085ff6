# Shared by the model cmdlets' tests: writes a tiny GPT-2-shaped model with random weights (and the
# byte-level tokenizer New-NnlModel writes beside it) into a folder, in well under a second.
function New-TinyNnlModel {
    param(
        [Parameter(Mandatory)][string] $Path,
        [int] $Seed = 7,
        [int] $Vocab = 400
    )
    $config = Join-Path ([System.IO.Path]::GetTempPath()) "nnl-tiny-$([guid]::NewGuid().ToString('N')).json"
    @{
        architectures       = @('GPT2LMHeadModel')
        model_type          = 'gpt2'
        activation_function = 'gelu_new'
        n_embd              = 32
        n_layer             = 2
        n_head              = 4
        n_positions         = 128
        n_ctx               = 128
        vocab_size          = $Vocab
        layer_norm_epsilon  = 1e-5
        bos_token_id        = $Vocab - 1
        eos_token_id        = $Vocab - 1
    } | ConvertTo-Json | Set-Content -LiteralPath $config
    try {
        New-NnlModel -Config $config -Path $Path -DType fp32 -Seed $Seed -Force | Out-Null
    }
    finally {
        Remove-Item -LiteralPath $config -ErrorAction Ignore
    }
    $Path
}
